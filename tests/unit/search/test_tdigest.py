"""The t-digest port (aggregations/tdigest.py), ES 8.17's algorithm: TDigestTests' cases (run
there against MergingDigest, SortingDigest and HybridDigest), the hybrid's switch from exact
values to centroids, and the merge's invariants. The stored TDigestTests are the 2023 fork's;
where 8.17's MergingDigest.quantile/cdf or its later Dist.cdf answer differently, the figures
here are worked out by hand from the 8.17 code (quantile: index = q * totalWeight, interpolated
between centroid means from weight[0] / 2 on; cdf: interpolated across the mid-points between
neighbouring centroids, min and max counting half their weight) and say so. Dist.quantile
interpolates at q * (n - 1), as ever."""

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


def test_dist_cdf_interpolates_between_neighbouring_values():
    # the later Dist.cdf (MergingDigest.cdf with weights 1); the mid-point rule gave 25, 25,
    # 50 and 75 for 40, 50, 99 and 140
    data = np.array([1.0, 51.0, 101.0, 151.0])
    assert [dist_cdf(x, data) * 100 for x in (40, 50, 51, 99, 140)] == [32.0, 37.0, 37.5, 61.5, 82.0]
    assert dist_cdf(1.0, data) == 0.5 / 4 and dist_cdf(151.0, data) == 3.5 / 4
    assert dist_cdf(0.5, data) == 0.0 and dist_cdf(151.5, data) == 1.0
    assert math.isnan(dist_cdf(1.0, np.empty(0)))
    assert [dist_cdf(x, np.array([5.0])) for x in (4.0, 5.0, 6.0)] == [0.0, 0.5, 1.0]


def test_dist_cdf_counts_half_of_the_values_equal_to_the_first_or_last():
    data = np.array([1.0, 1.0, 2.0, 3.0, 3.0, 3.0])
    assert dist_cdf(1.0, data) == 2 / 2.0 / 6
    assert dist_cdf(3.0, data) == (6 - 3 / 2.0) / 6
    assert dist_cdf(-0.0, np.array([0.0, 1.0])) == 0.0  # Double.compare: -0.0 is below 0.0


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


BIG_JUMP_QS = (0.50, 0.80, 0.90, 0.95, 0.98, 0.99, 1.00)


def test_big_jump_sorting():
    # TDigestTests.testBigJump's quantiles: Dist.quantile, unchanged in 8.17
    digest = hybrid([*range(1, 20), 1_000_000])
    expected = (10.5, 16.2, 18.1, 50_000, 620_000, 810_000, 1_000_000)
    for q, value, tolerance in zip(BIG_JUMP_QS, expected, (1e-5, 1e-5, 1e-5, 100, 100, 100, 0), strict=True):
        assert digest.quantile(q) == pytest.approx(value, abs=tolerance)


def test_big_jump_merging():
    # testBigJump's data, by hand from 8.17's MergingDigest.quantile: 20 singletons, index = 20q,
    # from weight 0.5 each step of 1 brackets two means, weighted by the distances
    digest = merging([*range(1, 20), 1_000_000])
    assert [digest.quantile(q) for q in BIG_JUMP_QS] == \
        [10.5, 16.5, 18.5, 500_009.5, 1_000_000, 1_000_000, 1_000_000]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_big_jump_cdf(kind):
    # by hand from 8.17's cdf: 19 sits in the half-width [18.5, 19 + (1e6 - 19) / 2] after 18
    # values, so its rank is (18 + 0.5 / 499_991) / 20 (the 2023 fork's 0.925 counted it half)
    digest = KINDS[kind]([*range(1, 20), 1_000_000])
    half = (1_000_000 - 19) / 2
    assert digest.cdf(19) == pytest.approx((18 + 0.5 / (half + 0.5)) / 20, abs=1e-15)
    assert digest.cdf(19.0000001) == pytest.approx((18 + (0.5 + 1e-7) / (half + 0.5)) / 20, abs=1e-15)
    assert digest.cdf(19 - 0.0000001) == pytest.approx((18 + (0.5 - 1e-7) / (half + 0.5)) / 20, abs=1e-15)


@pytest.mark.parametrize(("kind", "expected"), [
    # TDigestTests.testSmallCountQuantile (compression 200): Dist.quantile
    ("hybrid", {0.0: 15.0, 0.1: 16.5, 0.25: 18.75, 0.5: 26.0, 0.75: 39.0, 0.9: 51.6, 1.0: 60.0}),
    # the same by hand from 8.17's MergingDigest.quantile: index = 4q; below weight[0] / 2 the
    # weighted average is clamped to the first mean, past the last half-weight it is max
    ("merging", {0.0: 15.0, 0.1: 15.0, 0.25: 17.5, 0.5: 26.0, 0.75: 46.0, 0.9: 60.0, 1.0: 60.0}),
])
def test_small_count_quantile(kind, expected):
    digest = KINDS[kind]([15.0, 20.0, 32.0, 60.0], 200.0)
    for q, value in expected.items():
        assert digest.quantile(q) == pytest.approx(value, abs=1e-5)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_single_single_range_interpolates_across_the_mid_points(kind):
    # TDigestTests.testSingleSingleRange's data; by hand from 8.17's cdf there is no step
    # between singletons any more: the rank runs linearly from 0.5 / 3 at 1 to 2.5 / 3 at 3
    digest = KINDS[kind]([1.0, 2.0, 3.0])
    assert digest.cdf(1) == 0.5 / 3.0
    assert digest.cdf(1 + 1e-10) == pytest.approx((0.5 + 1e-10) / 3, abs=1e-15)
    assert digest.cdf(2 - 1e-10) == pytest.approx((1.5 - 1e-10) / 3, abs=1e-15)
    assert digest.cdf(2) == 1.5 / 3.0
    assert digest.cdf(2 + 1e-10) == pytest.approx((1.5 + 1e-10) / 3, abs=1e-15)
    assert digest.cdf(3 - 1e-10) == pytest.approx((2.5 - 1e-10) / 3, abs=1e-15)
    assert digest.cdf(3) == 2.5 / 3.0
    assert digest.cdf(3 + 1e-10) == 1.0


def test_singleton_at_end():
    # TDigestTests.testSingletonAtEnd, its first part; next to 1 and 3 the figures are by hand
    # from 8.17's cdf (interpolated, where the 2023 fork stepped to 1 / 3 and 2 / 3)
    digest = merging([1.0, 2.0, 3.0])
    assert digest.min == 1 and digest.max == 3
    assert len(digest.centroids()[0]) == 3
    assert digest.cdf(0) == 0 and digest.cdf(1 - 1e-9) == 0
    assert digest.cdf(1) == pytest.approx(0.5 / 3, abs=1e-10)
    assert digest.cdf(1 + 1e-10) == pytest.approx(0.5 / 3, abs=1e-10)
    assert digest.cdf(3 - 1e-9) == pytest.approx(2.5 / 3, abs=1e-9)
    assert digest.cdf(3) == 2.5 / 3
    assert digest.cdf(3 + 1e-9) == 1.0
    digest.add_many(np.array([1.0]))
    assert digest.cdf(1) == 1.0 / 4


@pytest.mark.parametrize(("kind", "expected"), [
    # TDigestTests.testIssue167: Dist.quantile
    ("hybrid", {0.90: 3000.0, 0.95: 3600.0, 0.96: 5880.0, 0.97: 8160.0, 0.98: 9000.0, 1.00: 9000.0}),
    # by hand from 8.17's MergingDigest.quantile: 39 singletons, index = 39q; 0.95 is 0.55 of
    # the way from the last 3000 (the 37th value, at 36.5) to the first 9000
    ("merging", {0.90: 3000.0, 0.95: 6300.0, 0.96: 8640.0, 0.97: 9000.0, 0.98: 9000.0, 1.00: 9000.0}),
])
def test_issue_167(kind, expected):
    digest = KINDS[kind]([9000.0] * 2 + [3000.0] * 11 + [1000.0] * 26)
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


def test_merging_refuses_nan_and_infinities():
    # TDigestTests.testNaN; 8.17's add calls checkValue, which refuses the infinities too
    with pytest.raises(IllegalArgument, match=r"Invalid value: NaN"):
        merging([1.0, math.nan])
    with pytest.raises(IllegalArgument, match=r"Invalid value: -Infinity"):
        merging([1.0, -math.inf])
    digest = merging([1.0])
    digest.add_many(np.array([2.0]), np.array([3]))
    with pytest.raises(IllegalArgument, match=r"Invalid value: Infinity"):
        digest.add_many(np.array([math.inf]), np.array([1]))
    assert digest.size() == 4


def test_merging_quantile_and_cdf_follow_es_8_17():
    # the review's figures, from a line-by-line rewrite of 8.17 (the 2023 fork gave p1 30.99,
    # p99 2970.01, a rank of 0.01 for 30.5 and 49.995 % for 5000 of 1..10000)
    digest = hybrid(np.arange(1.0, 3001.0))
    digest.compress()
    assert digest.merging is not None
    assert digest.quantile(0.01) == 30.5 and digest.quantile(0.99) == 2970.5
    assert digest.cdf(30.5) == pytest.approx(0.0099259, abs=1e-7)
    large = hybrid(np.arange(1.0, 10001.0))
    large.compress()
    assert large.cdf(5000) * 100 == pytest.approx(49.653, abs=1e-3)


def test_merging_quantile_tails_interpolate_from_min_and_to_max():
    # 8.17: below weight[0] / 2 the quantile runs from min to mean[0]; within the last half-weight
    # it runs from mean[n-1] to max
    digest = MergingDigest(100)
    digest.mean, digest.weight = [2.0, 10.0], [4.0, 4.0]
    digest.total_weight, digest.min, digest.max = 8.0, 1.0, 13.0
    assert digest.quantile(0.125) == (1.0 * 1 + 2.0 * 1) / 2  # index 1: halfway between min and mean[0]
    assert digest.quantile(0.875) == 13.0 - (8 - 7 - 1) / (2 - 1) * 3.0
    assert digest.quantile(0.5) == 6.0
    assert digest.cdf(1.0) == 0.0  # x == min: no centroid sits there, so no half-weight
    assert digest.cdf(13.0) == 1.0  # x == max: likewise
    assert digest.cdf(4.0) == 4 * (4 - (2 - 4)) / ((2 + 4) - (2 - 4)) / 8  # in the first centroid's span
    assert digest.cdf(12.0) == (4 + 4 * (12 - (10 - 4)) / ((10 + 4) - (10 - 4))) / 8  # in the last one's


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


def test_the_merge_never_exceeds_its_centroid_capacity():
    # ES #111065 / PR #111644: compression 10 (capacity 30) with 1M uniform integers in
    # [0, 3.6M] made a merge want a 31st centroid; the last one now takes the rest
    assert MergingDigest(10).capacity == 30
    most = [0]
    original = MergingDigest._merge

    def watched(self, *args):
        original(self, *args)
        most[0] = max(most[0], len(self.mean))

    digest = MergingDigest(10)
    digest._merge = watched.__get__(digest)
    values = np.random.default_rng(0).integers(0, 3_600_001, 1_000_000).astype(np.float64)
    digest.add_many(values)
    digest.compress()
    assert most[0] == 30  # without the guard this input reaches 31
    assert sum(digest.centroids()[1]) == 1_000_000


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
