"""Near duplicates and stories on the generated evaluation corpus may not drop below the floor.

The corpus (tasks/stories/evaluation.py) is built at run time from the seeds and the gold
bodies of ../shared/eval/dev; the test skips when that folder is absent.
"""

import pytest
from conftest import EVAL_DEV, SEEDS

from tasks.settings import Settings
from tasks.stories.evaluation import (
    SEED_STORIES,
    build_corpus,
    dev_bodies,
    evaluate,
    pair_scores,
    seed_bodies,
)

# The targets. Measured on generator seeds 1-10 (bench/eval_stories.py): near
# duplicates P 1.000 R 1.000, stories P 0.997 R 0.987 (the misses: an outlet assigned in an
# earlier run than the articles that would link it to its story; stories are never merged).
FLOOR = 0.95
GENERATOR_SEEDS = (1, 2, 3)

pytestmark = pytest.mark.skipif(
    not EVAL_DEV.is_dir(), reason="needs ../shared/eval/dev (the shared evaluation pages)"
)


@pytest.fixture(scope="module")
def results():
    seeds, dev = seed_bodies(SEEDS), dev_bodies(EVAL_DEV)
    runs = []
    for seed in GENERATOR_SEEDS:
        corpus = build_corpus(seeds, dev, seed=seed)
        runs.append((seed, corpus, evaluate(corpus, Settings(), seed=seed)))
    return runs


def _pooled(results, truth_of, predicted_of):
    truth, predicted = {}, {}
    for seed, corpus, result in results:
        for article in corpus:
            key = (seed, article.article_id)
            truth[key] = f"{seed}:{truth_of(article)}"
            predicted[key] = f"{seed}:{predicted_of(article, result.assigned[article.article_id])}"
    return pair_scores(truth, predicted)


def test_the_corpus_plants_every_kind_of_case(results):
    for _seed, corpus, _result in results:
        kinds = {article.kind for article in corpus}
        assert {"seed", "base", "outlet", "distractor"} <= kinds
        assert len(kinds & {"edited", "reordered", "truncated", "boilerplate", "mixed"}) >= 4


def test_near_duplicates_reach_the_floor(results):
    scores = _pooled(
        results,
        lambda article: article.duplicate_group,
        lambda article, assigned: assigned[1] or article.article_id,
    )
    assert scores.true_pairs >= 100
    assert scores.precision >= FLOOR, scores
    assert scores.recall >= FLOOR, scores


def test_stories_reach_the_floor(results):
    scores = _pooled(results, lambda article: article.story, lambda _article, assigned: assigned[0])
    assert scores.true_pairs >= 500
    assert scores.precision >= FLOOR, scores
    assert scores.recall >= FLOOR, scores


def test_the_seeds_form_the_two_stories_of_their_truth(results):
    for _seed, corpus, result in results:
        seeds = {article.paragraphs[0]: article for article in corpus if article.kind == "seed"}
        scores = pair_scores(
            {article.article_id: article.story for article in seeds.values()},
            {
                article.article_id: result.assigned[article.article_id][0]
                for article in seeds.values()
            },
        )
        assert (scores.precision, scores.recall) == (1.0, 1.0)
        assert sorted(set(SEED_STORIES.values())) == ["seeds-2022", "seeds-2023"]
