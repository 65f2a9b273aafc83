"""Random bool trees checked against a plain-Python evaluation of the same tree: the
vectorised conjunctions, disjunctions and exclusions, and the narrowing of scoring
clauses to the documents the filters allow, must agree with set arithmetic over the
leaves' own matches and sums of their scores."""

import random

import pytest

from .shards import hits, shard

WORDS = ["red", "green", "blue", "black", "white"]


def random_docs(rng: random.Random, n: int) -> list[dict]:
    return [{"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))),
             "tag": rng.choice(WORDS[:3]), "n": rng.randint(0, 20)} for _ in range(n)]


def random_leaf(rng: random.Random) -> dict:
    kind = rng.randrange(4)
    if kind == 0:
        return {"match": {"text": " ".join(rng.sample(WORDS, rng.randint(1, 2)))}}
    if kind == 1:
        return {"term": {"tag": rng.choice(WORDS[:3])}}
    if kind == 2:
        low = rng.randint(0, 20)
        return {"range": {"n": {"gte": low, "lte": low + rng.randint(0, 8)}}}
    return {"match": {"text": {"query": " ".join(rng.sample(WORDS, 2)), "operator": "and"}}}


def random_bool(rng: random.Random, depth: int = 0) -> dict:
    body: dict = {}
    for occur in ("must", "filter", "should", "must_not"):
        count = rng.choice([0, 0, 1, 2])
        clauses = [random_bool(rng, depth + 1) if depth < 2 and rng.random() < 0.3 else random_leaf(rng)
                   for _ in range(count)]
        if clauses:
            body[occur] = clauses
    if "should" in body and rng.random() < 0.3:
        body["minimum_should_match"] = rng.randint(1, len(body["should"]))
    return {"bool": body}


def oracle(ctx, body: dict, every: set[str]) -> dict[str, float]:
    """What the tree should give: ids -> score, from the leaves' own results."""
    if "bool" not in body:
        return hits(ctx, body)
    spec = body["bool"]
    must = [oracle(ctx, c, every) for c in spec.get("must", [])]
    filters = [oracle(ctx, c, every) for c in spec.get("filter", [])]
    should = [oracle(ctx, c, every) for c in spec.get("should", [])]
    must_not = [oracle(ctx, c, every) for c in spec.get("must_not", [])]
    if not (must or filters or should or must_not):
        return dict.fromkeys(every, 1.0)
    required = must + filters
    msm = spec.get("minimum_should_match", 0 if required else (1 if should else 0))
    candidates = set(every)
    for r in required:
        candidates &= set(r)
    if not required and not should and msm == 0:
        result = dict.fromkeys(candidates, 0.0)
    else:
        result = {}
        for doc in candidates:
            matched = [s for s in should if doc in s]
            if len(matched) < msm or (not required and not matched):
                continue
            result[doc] = sum(m[doc] for m in must) + sum(s[doc] for s in matched)
    for excluded in must_not:
        for doc in excluded:
            result.pop(doc, None)
    return result


@pytest.mark.parametrize("seed", range(6))
def test_random_bool_trees_agree_with_set_arithmetic(tmp_path, seed):
    rng = random.Random(seed)
    mapping = {"properties": {"text": {"type": "text"}, "tag": {"type": "keyword"}, "n": {"type": "long"}}}
    with shard(tmp_path, mapping, random_docs(rng, 120), batches=3) as ctx:
        every = {ctx.reader.document(s).id for s in ctx.reader.docs().tolist()}
        for _ in range(25):
            body = random_bool(rng)
            assert hits(ctx, body) == pytest.approx(oracle(ctx, body, every), abs=1e-5), body
            assert set(hits(ctx, body, score=False)) == set(oracle(ctx, body, every)), body
