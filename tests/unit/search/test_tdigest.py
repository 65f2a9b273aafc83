"""The t-digest port (aggregations/tdigest.py) against Elasticsearch's own expectations:
TDigestTests (run there against MergingDigest, SortingDigest and HybridDigest), the
hybrid's switch from exact values to centroids, and the merge's invariants. Where a test
names an ES test, the numbers are that test's; the others are worked out by hand from the
algorithm (Dist.quantile interpolates at q * (n - 1); Dist.cdf is the mid-point rule)."""

import math

import msgspec
import numpy as np
import pytest

from strata_node.common.errors import IllegalArgument
from strata_node.search.aggregations.tdigest import (
    HybridDigest,
    MergingDigest,
    SortingDigest,
    dist_cdf,
    dist_quantile,
    reduce_partials,
    shard_partial,
)


def merging(values, compression=100.0) -> MergingDigest:
    digest = MergingDigest(compression)
    digest.add_many(np.asarray(values, dtype=np.float64))
    return digest


def hybrid(values, compression=100.0) -> HybridDigest:
    digest = HybridDigest(compression)
    digest.add_values(np.asarray(values, dtype=np.float64))
    return digest


KINDS = {"merging": merging, "hybrid": hybrid}


# -- Dist and the sorting digest ------------------------------------------------------------


def test_dist_quantile_interpolates_at_q_times_n_minus_one():
    data = np.array([1.0, 51.0, 101.0, 151.0])
    assert [dist_quantile(p / 100, data) for p in (1, 5, 25, 50, 75, 95, 99)] == \
        [2.5, 8.5, 38.5, 76.0, 113.5, 143.5, 149.5]


def test_dist_quantile_clamps_to_the_ends_and_is_nan_without_data():
    data = np.array([3.0, 7.0])
    assert dist_quantile(0.0, data) == 3.0 and dist_quantile(1.0, data) == 7.0
    assert math.isnan(dist_quantile(0.5, np.empty(0)))


def test_dist_cdf_counts_values_below_and_half_of_those_equal():
    data = np.array([1.0, 2.0, 2.0, 3.0])
    assert dist_cdf(2.0, data) == (1 + 0.5 * 2) / 4
    assert dist_cdf(0.5, data) == 0.0 and dist_cdf(3.5, data) == 1.0
    assert dist_cdf(2.5, data) == 3 / 4


def test_sorting_digest_sorts_what_arrived_out_of_order():
    digest = SortingDigest()
    digest.add_many(np.array([5.0, 1.0, 3.0]))
    assert not digest.sorted
    assert digest.centroids() == ([1.0, 3.0, 5.0], [1, 1, 1])
    assert digest.min == 1.0 and digest.max == 5.0


def test_sorting_digest_sorts_negative_zero_first_as_java_does():
    # Collections.sort orders -0.0 before 0.0; arriving as 0.0, -0.0 they already count as
    # sorted (0.0 <= -0.0) and stay as they came, as in Java
    digest = SortingDigest()
    digest.add_many(np.array([1.0, 0.0, -0.0]))
    means, _ = digest.centroids()
    assert [math.copysign(1.0, m) for m in means] == [-1.0, 1.0, 1.0]
    kept = SortingDigest()
    kept.add_many(np.array([0.0, -0.0]))
    assert [math.copysign(1.0, m) for m in kept.centroids()[0]] == [1.0, -1.0]


def test_sorting_digest_refuses_nan_and_infinities():
    with pytest.raises(IllegalArgument, match=r"Invalid value: NaN"):
        hybrid([1.0, math.nan])
    with pytest.raises(IllegalArgument, match=r"Invalid value: Infinity"):
        hybrid([math.inf])


# -- TDigestTests ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_big_jump(kind):
    # TDigestTests.testBigJump
    digest = KINDS[kind]([*range(1, 20), 1_000_000])
    assert digest.quantile(0.50) == pytest.approx(10.5, abs=1e-5)
    assert digest.quantile(0.80) == pytest.approx(16.2, abs=1e-5)
    assert digest.quantile(0.90) == pytest.approx(18.1, abs=1e-5)
    assert digest.quantile(0.95) == pytest.approx(50_000, abs=100)
    assert digest.quantile(0.98) == pytest.approx(620_000, abs=100)
    assert digest.quantile(0.99) == pytest.approx(810_000, abs=100)
    assert digest.quantile(1.00) == 1_000_000
    assert digest.cdf(19) == pytest.approx(0.925, abs=1e-11)
    assert digest.cdf(19.0000001) == pytest.approx(0.95, abs=1e-11)
    assert digest.cdf(19 - 0.0000001) == pytest.approx(0.9, abs=1e-11)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_small_count_quantile(kind):
    # TDigestTests.testSmallCountQuantile (compression 200)
    digest = KINDS[kind]([15.0, 20.0, 32.0, 60.0], 200.0)
    expected = {0.0: 15.0, 0.1: 16.5, 0.25: 18.75, 0.5: 26.0, 0.75: 39.0, 0.9: 51.6, 1.0: 60.0}
    for q, value in expected.items():
        assert digest.quantile(q) == pytest.approx(value, abs=1e-5)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_single_single_range_is_a_step_between_singletons(kind):
    # TDigestTests.testSingleSingleRange: exact (delta 0)
    digest = KINDS[kind]([1.0, 2.0, 3.0])
    assert digest.cdf(1) == 0.5 / 3.0
    assert digest.cdf(1 + 1e-10) == 1 / 3.0
    assert digest.cdf(2 - 1e-10) == 1 / 3.0
    assert digest.cdf(2) == 1.5 / 3.0
    assert digest.cdf(2 + 1e-10) == 2 / 3.0
    assert digest.cdf(3 - 1e-10) == 2 / 3.0
    assert digest.cdf(3) == 2.5 / 3.0
    assert digest.cdf(3 + 1e-10) == 1.0


def test_singleton_at_end():
    # TDigestTests.testSingletonAtEnd, its first part
    digest = merging([1.0, 2.0, 3.0])
    assert digest.min == 1 and digest.max == 3
    assert len(digest.centroids()[0]) == 3
    assert digest.cdf(0) == 0 and digest.cdf(1 - 1e-9) == 0
    assert digest.cdf(1) == pytest.approx(0.5 / 3, abs=1e-10)
    assert digest.cdf(1 + 1e-10) == pytest.approx(1.0 / 3, abs=1e-10)
    assert digest.cdf(3 - 1e-9) == 2.0 / 3
    assert digest.cdf(3) == 2.5 / 3
    assert digest.cdf(3 + 1e-9) == 1.0
    digest.add_many(np.array([1.0]))
    assert digest.cdf(1) == 1.0 / 4


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_issue_167(kind):
    # TDigestTests.testIssue167
    digest = KINDS[kind]([9000.0] * 2 + [3000.0] * 11 + [1000.0] * 26)
    expected = {0.90: 3000.0, 0.95: 3600.0, 0.96: 5880.0, 0.97: 8160.0, 0.98: 9000.0, 1.00: 9000.0}
    for q, value in expected.items():
        assert digest.quantile(q) == pytest.approx(value, abs=1e-5)


def test_singleton_in_a_crowd():
    # TDigestTests.testSingletonInACrowd, with the merging digest a hybrid switches to
    digest = hybrid([10.0] * 10000 + [20.0])
    digest.compress()
    for q in (0.0, 0.5, 0.8, 0.9, 0.99, 0.999):
        assert digest.quantile(q) == 10.0
    assert digest.quantile(1) == 20.0


def test_explicit_skewed_data_median_is_exact():
    # TDigestTests.testExplicitSkewedData: the median equals Dist's, exactly
    data = [245, 246, 247.249, 240, 243, 248, 250, 241, 244, 245, 245, 247, 243, 242, 241, 50100, 51246,
            52247, 52249, 51240, 53243, 59248, 59250, 57241, 56244, 55245, 56245, 575247, 58243, 51242, 54241]
    expected = dist_quantile(0.5, np.sort(np.array(data, dtype=np.float64)))
    assert merging(data).quantile(0.5) == expected
    assert hybrid(data).quantile(0.5) == expected


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_empty_digest_has_no_quantile(kind):
    # TDigestTests.testEmpty
    assert math.isnan(KINDS[kind]([]).quantile(0.3))


def test_merging_refuses_nan():
    # TDigestTests.testNaN
    with pytest.raises(IllegalArgument, match="Cannot add NaN"):
        merging([1.0, math.nan])


# -- the merging digest's structure ---------------------------------------------------------


def test_the_merging_digest_keeps_es_buffer_sizes():
    # compression 100: size 110, buffer 550, scale 550 / 110 - 1 = 4, working compression 200,
    # so the centroid array grows to ceil(200 + 10)
    digest = MergingDigest(100)
    assert (digest.buffer_size, digest.capacity, digest.compression, digest.public_compression) == \
        (550, 210, 200.0, 100.0)
    assert MergingDigest(5).public_compression == 10  # anything below 10 is 10


def test_merges_happen_when_the_buffer_is_full_and_alternate_direction():
    digest = merging(np.arange(549, dtype=np.float64))
    assert digest.merge_count == 0 and len(digest.temp_mean) == 549
    digest.add_many(np.array([1000.0]))  # the 550th value finds the buffer full
    assert digest.merge_count == 1 and len(digest.temp_mean) == 1


def test_a_batch_adds_as_one_value_at_a_time_does():
    rng = np.random.default_rng(7)
    values = rng.normal(size=5000)
    batched = merging(values)
    single = MergingDigest(100)
    for value in values:
        single.add_many(np.array([value]))
    assert batched.centroids() == single.centroids()
    assert batched.merge_count == single.merge_count


def test_merged_centroids_keep_singletons_at_both_ends_and_every_weight():
    rng = np.random.default_rng(3)
    values = rng.exponential(size=20000)
    digest = merging(values)
    digest.compress()
    means, counts = digest.centroids()
    assert counts[0] == 1 and counts[-1] == 1
    assert sum(counts) == 20000
    assert means[0] == values.min() and means[-1] == values.max()
    assert means == sorted(means)
    assert len(means) < 120  # compressed to the public compression
    assert abs(digest.quantile(0.5) - np.median(values)) < 0.01


# -- the hybrid digest ----------------------------------------------------------------------


def test_the_hybrid_keeps_exact_values_below_round_compression_times_twenty():
    assert hybrid(np.arange(1999.0)).merging is None
    switched = hybrid(np.arange(2000.0))
    assert switched.merging is not None and switched.sorting is None
    assert switched.size() == 2000
    assert HybridDigest(49.5).max_sorting_size == 1000  # Math.round(49.5) * 20


def test_the_hybrid_switch_feeds_the_kept_values_in_the_order_they_came():
    values = np.arange(2500.0)[::-1].copy()
    digest = hybrid(values)
    reference = MergingDigest(100)
    reference.add_many(values)
    assert digest.merging.centroids() == reference.centroids()


def test_a_partial_survives_msgpack_and_reads_back_the_same():
    rng = np.random.default_rng(11)
    for values in (rng.normal(size=300), rng.normal(size=5000)):
        partial = shard_partial(values, 100.0)
        travelled = msgspec.msgpack.decode(msgspec.msgpack.encode(partial))
        assert travelled == partial
        read = HybridDigest.from_partial(travelled)
        original = HybridDigest.from_partial(partial)
        qs = (0.01, 0.5, 0.99)
        assert [read.quantile(q) for q in qs] == [original.quantile(q) for q in qs]


def test_reduce_of_small_shards_is_exact():
    shards = [shard_partial(np.array(v), 100.0) for v in ([1.0, 101.0], [51.0], [151.0])]
    reduced = HybridDigest.from_partial(reduce_partials(shards))
    assert reduced.quantile(0.5) == 76.0 and reduced.quantile(0.25) == 38.5


def test_reduce_switches_to_centroids_once_the_shards_add_up_past_the_limit():
    rng = np.random.default_rng(5)
    shards = [shard_partial(rng.uniform(size=900), 100.0) for _ in range(3)]
    assert not any(s["merging"] for s in shards)
    reduced = reduce_partials(shards)
    assert reduced["merging"] and sum(reduced["counts"]) == 2700


def test_reduce_of_nothing_is_none_and_skips_empty_shards():
    assert reduce_partials([None, None]) is None
    assert reduce_partials([None, shard_partial(np.array([4.0]), 100.0)])["means"] == [4.0]


def test_reduce_accepts_its_own_output():
    rng = np.random.default_rng(9)
    shards = [shard_partial(rng.normal(size=3000), 100.0) for _ in range(2)]
    once = reduce_partials(shards)
    again = reduce_partials([once])
    assert sum(again["counts"]) == 6000 and again["min"] == once["min"] and again["max"] == once["max"]
