"""`hubbub bench matcher`: posts/s of the percolating matcher against the naive reference.

Queries are generated from the vocabulary of the real posts in
`../shared/data/` (brand-like words, their stems, real two-word phrases,
OR lists, NOT clauses, NEAR and filters); posts are those real posts,
repeated to the requested count. One process, one core.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass

from hubbub.datasets import DataMissing, post_texts
from hubbub.listening.matcher import Matcher, Post, PreparedPost
from hubbub.listening.query import Node, QueryError, parse
from hubbub.listening.text import tokenize

COMMON = 150  # the most frequent words (the, to, and …) are not what brands are called


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument(
        "--naive-posts",
        type=int,
        default=300,
        help="posts the naive reference evaluates (it is slow)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object of the figures"
    )


@dataclass(frozen=True, slots=True)
class Vocabulary:
    words: list[str]  # brand-like: frequent enough to be seen, rare enough to mean something
    issue_words: list[str]
    bigrams: list[tuple[str, str]]
    document_frequency: dict[str, int]


def vocabulary_of(texts: list[str]) -> Vocabulary:
    counts: Counter[str] = Counter()
    documents: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for text in texts:
        all_tokens = tokenize(text)
        documents.update(set(all_tokens))
        tokens = [t for t in all_tokens if t.isalpha()]
        counts.update(tokens)
        pairs.update(itertools.pairwise(tokens))
    ranked = [word for word, _ in counts.most_common() if len(word) >= 4]
    words = ranked[COMMON : COMMON + 20_000]
    issue_words = ranked[COMMON : COMMON + 2_000]
    bigrams = [
        pair for pair, n in pairs.most_common(50_000) if n >= 3 and all(len(w) >= 4 for w in pair)
    ][:10_000]
    return Vocabulary(words, issue_words, bigrams, dict(documents))


def generate_queries(
    vocabulary: Vocabulary, count: int, rng: random.Random
) -> list[tuple[int, Node]]:
    words, issues, bigrams = vocabulary.words, vocabulary.issue_words, vocabulary.bigrams

    def brand() -> str:
        return rng.choice(words)

    templates = [
        lambda: brand(),
        lambda: f"{brand()} OR {brand()} OR {brand()}",
        lambda: '"{} {}"'.format(*rng.choice(bigrams)),
        lambda: (
            f"{brand()} AND ({rng.choice(issues)} OR {rng.choice(issues)} OR {rng.choice(issues)}*)"
        ),
        lambda: f"{brand()} NOT {rng.choice(issues)}",
        lambda: f"{brand()[: max(4, len(brand()) - 2)]}*",
        lambda: f"{brand()} NEAR/3 {rng.choice(issues)}",
        lambda: f'("{" ".join(rng.choice(bigrams))}" OR #{brand()} OR @{brand()}) lang:en',
        lambda: f"{brand()} {brand()} NOT ({rng.choice(issues)} OR {rng.choice(issues)})",
    ]
    queries: list[tuple[int, Node]] = []
    while len(queries) < count:
        try:
            queries.append((len(queries) + 1, parse(rng.choice(templates)())))
        except QueryError:
            continue  # e.g. a stem shorter than three letters
    return queries


def run(args: argparse.Namespace) -> int:
    try:
        texts = post_texts()
    except DataMissing as error:
        print(error)
        return 2
    rng = random.Random(args.seed)
    vocabulary = vocabulary_of(texts)
    queries = generate_queries(vocabulary, args.queries, rng)
    posts = [Post(texts[i % len(texts)], lang="en") for i in range(args.posts)]

    tracemalloc.start()
    started = time.perf_counter()
    # The word frequencies the pipeline keeps from recent posts; here, from the corpus.
    matcher = Matcher(queries, word_frequencies=vocabulary.document_frequency)
    build_s = time.perf_counter() - started
    index_mb = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()

    started = time.perf_counter()
    candidates = matches = 0
    for post in posts:
        prepared = PreparedPost.of(post)
        found = matcher.candidates(prepared)
        candidates += len(found)
        matches += sum(1 for i in found if matcher.queries[i].predicate(prepared))
    elapsed = time.perf_counter() - started
    posts_per_s = len(posts) / elapsed

    sample = posts[: args.naive_posts]
    started = time.perf_counter()
    naive_results = []
    for post in sample:
        prepared = PreparedPost.of(post)
        # The same compiled queries, every one on every post: what presearch saves.
        naive_results.append([q.key for q in matcher.queries if q.predicate(prepared)])
    naive_posts_per_s = len(sample) / (time.perf_counter() - started)
    disagreements = sum(
        matcher.match(post) != naive for post, naive in zip(sample, naive_results, strict=True)
    )

    figures = {
        "queries": len(queries),
        "posts": len(posts),
        "posts_per_s": round(posts_per_s, 1),
        "naive_posts_per_s": round(naive_posts_per_s, 1),
        "speedup_x": round(posts_per_s / naive_posts_per_s, 1),
        "candidates_per_post": round(candidates / len(posts), 2),
        "matches_per_post": round(matches / len(posts), 3),
        "index_build_s": round(build_s, 3),
        "index_mb": round(index_mb, 1),
        "disagreements_with_naive": disagreements,
    }
    print(
        f"hubbub bench matcher: {len(queries):,} queries generated from the vocabulary of "
        f"{len(texts):,} real posts; {len(posts):,} posts; one core"
    )
    print(
        f"  percolating matcher  {posts_per_s:>10,.0f} posts/s  "
        f"({figures['candidates_per_post']} candidates, "
        f"{figures['matches_per_post']} matches per post)"
    )
    print(
        f"  naive reference      {naive_posts_per_s:>10,.1f} posts/s  (every query on every post, "
        f"{len(sample)} posts)"
    )
    print(
        f"  speed-up             {figures['speedup_x']:>10}×   index {figures['index_mb']} MB, "
        f"built in {figures['index_build_s']} s; disagreements on the sample: {disagreements}"
    )
    if args.json:
        print(json.dumps(figures))
    return 0 if disagreements == 0 else 1
