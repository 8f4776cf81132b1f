"""Story and near-duplicate quality on a generated corpus with known truth.

Usage: .venv/bin/python bench/eval_stories.py [--dev DIR] [--seeds N ...] [--batch-size N] [-v]

Builds the corpus of tasks/stories/evaluation.py from the seeds and the gold bodies of the dev
pages (read at run time), assigns it in shuffled batches (each batch a run that reloads the
index from a stand-in warehouse), and prints pairwise precision and recall of near duplicates
and of story membership, per generator seed and pooled. Targets: 0.95 or more for each.
"""

import argparse
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tasks.settings import Settings  # noqa: E402
from tasks.stories.evaluation import (  # noqa: E402
    SEED_STORIES,
    build_corpus,
    dev_bodies,
    evaluate,
    pair_scores,
    seed_bodies,
)

DEV = REPO.parent / "shared" / "eval" / "dev"
SEEDS = REPO / "seeds"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=DEV)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every wrong pair")
    args = parser.parse_args(argv)
    if not args.dev.is_dir():
        print(f"no dev pages at {args.dev}", file=sys.stderr)
        return 2
    seeds, dev = seed_bodies(SEEDS), dev_bodies(args.dev)
    settings = Settings()
    truth_dups, truth_stories, got_dups, got_stories = {}, {}, {}, {}
    print(f"{'seed':>4} {'articles':>8} | {'dup P':>6} {'dup R':>6} {'pairs':>5} | "
          f"{'story P':>7} {'story R':>7} {'pairs':>5}")  # fmt: skip
    for seed in args.seeds:
        corpus = build_corpus(seeds, dev, seed=seed)
        result = evaluate(corpus, settings, batch_size=args.batch_size, seed=seed)
        dup, story = result.duplicates, result.stories
        kinds = Counter(article.kind for article in corpus)
        print(
            f"{seed:>4} {result.articles:>8} | {dup.precision:6.3f} {dup.recall:6.3f} "
            f"{dup.true_pairs:>5} | {story.precision:7.3f} {story.recall:7.3f} "
            f"{story.true_pairs:>5}   {dict(sorted(kinds.items()))}"
        )
        for article in corpus:
            key = (seed, article.article_id)
            story_id, copied = result.assigned[article.article_id]
            truth_dups[key], got_dups[key] = article.duplicate_group, copied or article.article_id
            truth_stories[key], got_stories[key] = article.story, story_id
        if args.verbose:
            _print_mistakes(corpus, result)
        seed_story = {
            article.paragraphs[0][:40]: result.assigned[article.article_id][0][:8]
            for article in corpus
            if article.kind == "seed"
        }
        if seed == args.seeds[0]:
            print(f"     seeds -> stories: {sorted(seed_story.values())} "
                  f"(truth: {sorted(SEED_STORIES.values())})")  # fmt: skip
    pooled_dups = pair_scores(
        {key: f"{key[0]}:{value}" for key, value in truth_dups.items()},
        {key: f"{key[0]}:{value}" for key, value in got_dups.items()},
    )
    pooled_stories = pair_scores(
        {key: f"{key[0]}:{value}" for key, value in truth_stories.items()},
        {key: f"{key[0]}:{value}" for key, value in got_stories.items()},
    )
    print(
        f"pooled        | {pooled_dups.precision:6.3f} {pooled_dups.recall:6.3f} "
        f"{pooled_dups.true_pairs:>5} | {pooled_stories.precision:7.3f} "
        f"{pooled_stories.recall:7.3f} {pooled_stories.true_pairs:>5}"
    )
    return 0


def _print_mistakes(corpus, result) -> None:
    by_id = {article.article_id: article for article in corpus}
    for left in corpus:
        for right in corpus:
            if left.article_id >= right.article_id:
                continue
            story_l, dup_l = result.assigned[left.article_id]
            story_r, dup_r = result.assigned[right.article_id]
            same_story = story_l == story_r
            same_dup = (dup_l or left.article_id) == (dup_r or right.article_id)
            for what, got, truth in (
                ("story", same_story, left.story == right.story),
                ("dup", same_dup, left.duplicate_group == right.duplicate_group),
            ):
                if got != truth:
                    verdict = "missed" if truth else "wrong"
                    print(
                        f"    {verdict} {what}: {left.kind}/{left.story} {left.title!r} "
                        f"{left.published_at} <-> {right.kind}/{right.story} {right.title!r} "
                        f"{right.published_at}"
                    )
    del by_id


if __name__ == "__main__":
    raise SystemExit(main())
