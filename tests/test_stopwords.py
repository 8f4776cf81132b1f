"""Stopword share: high on running text in every listed language, nil on labels, None on CJK."""

import pytest

from tasks.clean.stopwords import StopwordTableError, load_stopwords, stopword_share

# One ordinary news sentence per language ("The council said on Tuesday that it would not raise
# taxes for the rest of the year", or close to it), written for this test.
SENTENCES = {
    "en": "The council said on Tuesday that it would not raise taxes for the rest of the year.",
    "de": "Der Rat hat am Dienstag gesagt, dass er die Steuern in diesem Jahr nicht erhöhen wird.",
    "fr": "Le conseil a dit mardi qu’il ne va pas augmenter les impôts pour le reste de l’année.",
    "es": "El consejo dijo el martes que no va a subir los impuestos durante el resto del año.",
    "it": "Il consiglio ha detto martedì che non alzerà le tasse per il resto dell’anno.",
    "pt": "O conselho disse na terça-feira que não vai aumentar os impostos no resto do ano.",
    "nl": "De raad zei dinsdag dat hij de belastingen dit jaar niet zal verhogen.",
    "sv": "Rådet sade i tisdags att det inte kommer att höja skatterna under resten av året.",
    "da": "Rådet sagde tirsdag, at det ikke vil hæve skatterne i resten af året.",
    "no": "Rådet sa tirsdag at det ikke vil øke skattene for resten av året.",
    "pl": "Rada powiedziała we wtorek, że nie podniesie podatków do końca roku.",
    "ru": "Совет заявил во вторник, что он не будет повышать налоги до конца года.",
    "tr": "Meclis, bu yıl da vergilerin artmayacağını ve bunun için bir plan olduğunu söyledi.",
    "id": "Dewan mengatakan pada hari Selasa bahwa mereka tidak akan menaikkan pajak tahun ini.",
}
# Function words are roughly a third to a half of the words of running text; a sentence under
# this share would mean its language's list misses its commonest words.
RUNNING_TEXT_MIN_SHARE = 0.3
LABELS = [
    "Home News Sport Business",
    "Privacy Policy",
    "Stock Screener",
    "Anzeige Digitalisierung",
    "Notizie Cronaca Sport",
    "Actualités Économie Culture",
    "Новости Спорт Экономика",
    "Pocket Flipboard Email",
]


def _words(text: str) -> list[str]:
    return text.lower().replace("’", " ").replace("'", " ").split()


def test_every_listed_language_is_in_the_table():
    assert set(load_stopwords()) == set(SENTENCES)
    assert all(len(words) >= 80 for words in load_stopwords().values())


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_running_text_has_a_high_share(code):
    assert stopword_share(SENTENCES[code]) >= RUNNING_TEXT_MIN_SHARE


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_each_list_alone_recognises_its_language(code):
    words = _words(SENTENCES[code])
    own = load_stopwords()[code]
    assert sum(word in own for word in words) / len(words) >= RUNNING_TEXT_MIN_SHARE


@pytest.mark.parametrize("label", LABELS)
def test_menu_labels_have_no_stopword(label):
    assert stopword_share(label) == 0


@pytest.mark.parametrize(
    "text",
    [
        "이 영화는 정말 재미있었다",  # Korean: particles are attached to words
        "東京都議会は火曜日、計画の拡大を承認した。",  # Japanese
        "市议会周二批准了扩大计划。",  # Chinese
        "‘VIP’ 장나라에서 이청아로, 시선이 바..",  # Korean with Latin letters
        "Το συμβούλιο είπε την Τρίτη ότι δεν θα αυξήσει τους φόρους.",  # Greek: no list
        "",
        "   ",
    ],
)
def test_nothing_to_judge_is_none_not_zero(text):
    assert stopword_share(text) is None


def test_words_split_at_apostrophes_and_compare_lowercased():
    assert stopword_share("l’homme") == 0.5  # "l" is French, "homme" is not a stopword
    assert stopword_share("dell'anno") == 0.5  # Italian "dell"
    assert stopword_share("It’s THE End") == 0.75  # it, s, the; "end" is not on any list
    assert stopword_share("—") == 0  # a piece without letters is a word without a function


def test_english_content_words_are_not_counted_through_other_languages():
    union = frozenset().union(*load_stopwords().values())
    # Function words elsewhere, but frequent English words, names or abbreviations.
    for word in ("war", "man", "men", "hat", "car", "come", "door", "go", "ten", "one", "ad",
                 "al", "eu", "est", "min", "kim", "dog", "end", "want"):  # fmt: skip
        assert word not in union, word


@pytest.mark.parametrize(
    ("words", "complaint"),
    [
        ("der die Das", "not lowercase"),
        ("l' homme", "not lowercase word characters"),
        ("so-called", "not lowercase word characters"),
        ("und oder und", "listed twice"),
        ("", "no words"),
    ],
)
def test_malformed_tables_are_refused(tmp_path, words, complaint):
    path = tmp_path / "stopwords.toml"
    path.write_text(f'[xx]\nname = "Test"\nwords = """\n{words}\n"""\n', encoding="utf-8")
    with pytest.raises(StopwordTableError, match=complaint):
        load_stopwords(path)
