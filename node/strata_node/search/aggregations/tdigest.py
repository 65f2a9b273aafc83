"""Elasticsearch 8.17's t-digest (org.elasticsearch.tdigest), ported step for step, so
percentiles and percentile ranks come out with ES 8.17's digits.

ES 8.9+ builds every percentiles state as a HybridDigest (TDigestState with the DEFAULT
execution hint): a SortingDigest, which keeps every value and answers exactly, until the
state would hold round(compression) * 20 values (2000 at the default compression of 100),
then a MergingDigest fed with the values kept so far, in the order they were kept.

    SortingDigest   every value; quantile from the sorted values (Dist.quantile, at
                    q * (n - 1)); cdf by the later Dist.cdf, which treats the values as
                    weight-1 centroids the way MergingDigest.cdf does (interpolated across
                    the mid-points to the neighbouring values; first and last count half)
    MergingDigest   a buffer of incoming points merged, when full, with the centroids into
                    new centroids under the K_2 scale function's weight limit, alternately
                    upward and downward, never past its array's size (the last centroid takes
                    the rest, ES PR #111644, 8.16+); its working compression is sqrt(4) times
                    the public one (two-level compression), the public one on compress();
                    quantile and cdf as 8.17 has them (index = q * totalWeight; cdf between
                    centroid mid-points, min and max counting half their centroids' weight)

Everything that decides a digit is kept as Java does it: the buffer sizes the constructor
derives, the stable sort by (value, position) with Double.compare's order, the weight
limit's arithmetic in the same order, the merge direction flipping on each merge, and
quantile/cdf interpolation. Batches of values are added a buffer at a time (numpy), which
is the same as adding them one by one because a merge only ever happens when the buffer
is full and one more value arrives. NaN and the infinities are refused (checkValue).

A digest travels between shards and the coordinator as `to_partial()`: plain lists and
floats (its centroids, as TDigestState.write sends them, and min and max).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...common.errors import IllegalArgument
from ...index.mapping.numbers import java_double

_SIGN_MASK = np.int64(0x7FFFFFFFFFFFFFFF)


def java_order_keys(values: np.ndarray) -> np.ndarray:
    """int64 keys that sort as Double.compare sorts doubles (-0.0 before 0.0)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    return bits ^ ((bits >> 63) & _SIGN_MASK)


def java_sorted(values: np.ndarray) -> np.ndarray:
    """Collections.sort of a List<Double>: Double.compareTo's total order."""
    if len(values) < 2:
        return np.asarray(values, dtype=np.float64).copy()
    return values[np.argsort(java_order_keys(values), kind="stable")]


def _check_value(x: float) -> None:
    if math.isnan(x) or math.isinf(x):
        raise IllegalArgument(f"Invalid value: {java_double(x)}")


def _check_values(values: np.ndarray) -> None:
    if len(values) and not np.all(np.isfinite(values)):
        _check_value(float(values[~np.isfinite(values)][0]))


def java_round(x: float) -> int:
    """Math.round(double): floor(x + 0.5)."""
    return math.floor(x + 0.5)


def weighted_average(x1: float, w1: float, x2: float, w2: float) -> float:
    """AbstractTDigest.weightedAverage: the weighted mean, kept within [x1, x2]."""
    if x1 > x2:
        x1, w1, x2, w2 = x2, w2, x1, w1
    x = (x1 * w1 + x2 * w2) / (w1 + w2)
    return max(x1, min(x, x2))


def dist_quantile(q: float, data: np.ndarray) -> float:
    """Dist.quantile over sorted values: linear interpolation at q * (n - 1)."""
    n = len(data)
    if n == 0:
        return math.nan
    index = q * (n - 1)
    low = math.floor(index)
    high = low + 1
    weight = index - low
    if index <= 0:
        low = high = 0
        weight = 0.0
    if index >= n - 1:
        low = high = n - 1
        weight = 0.0
    low_value, high_value = float(data[low]), float(data[high])
    return low_value + weight * (high_value - low_value)


def java_compare(a: float, b: float) -> int:
    """Double.compare: -0.0 sorts before 0.0, NaN after everything (and equal to NaN)."""
    if math.isnan(a) or math.isnan(b):
        return (1 if math.isnan(a) else 0) - (1 if math.isnan(b) else 0)
    if a < b:
        return -1
    if a > b:
        return 1
    sign_a, sign_b = math.copysign(1.0, a), math.copysign(1.0, b)
    return 0 if sign_a == sign_b else (-1 if sign_a < sign_b else 1)


def interpolate(x: float, x0: float, x1: float) -> float:
    """AbstractTDigest.interpolate."""
    return (x - x0) / (x1 - x0)


def dist_cdf(x: float, data: np.ndarray) -> float:
    """Dist.cdf over sorted values, the version that mirrors MergingDigest.cdf with every
    value a centroid of weight 1: values equal to the first or last one count half, and
    between them the rank is interpolated across the mid-points to the neighbouring values."""
    length = len(data)
    if length == 0:
        return math.nan
    values = data.tolist()
    if length == 1:
        if x < values[0]:
            return 0.0
        if x > values[0]:
            return 1.0
        return 0.5
    if java_compare(x, values[0]) < 0:
        return 0.0
    if java_compare(x, values[0]) == 0:  # one or more values equal to x, taken as one
        dw = 0.0
        i = 0
        while i < length and java_compare(values[i], x) == 0:
            dw += 1
            i += 1
        return dw / 2.0 / length
    if x > values[-1]:
        return 1.0
    if x == values[-1]:
        dw = 0.0
        i = length - 1
        while i >= 0 and java_compare(values[i], x) == 0:
            dw += 1
            i -= 1
        return (length - dw / 2.0) / length
    left = (values[1] - values[0]) / 2  # the left width starts equal to the right one
    weight_so_far = 0.0
    for i in range(length - 1):
        right = (values[i + 1] - values[i]) / 2
        if x < values[i] + right:
            value = (weight_so_far + interpolate(x, values[i] - left, values[i] + right)) / length
            return max(value, 0.0)
        weight_so_far += 1
        left = right
    last = length - 1  # the last value: its right width is taken as its left one
    right = (values[last] - values[last - 1]) / 2
    if x < values[last] + right:
        return (weight_so_far + interpolate(x, values[last] - right, values[last] + right)) / length
    return 1.0


class SortingDigest:
    """Every value kept (SortingDigest); sorted in place on first use, as Java sorts its list."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.sorted = True
        self.min = math.inf
        self.max = -math.inf

    def size(self) -> int:
        return len(self.values)

    def add_many(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        if not len(values):
            return
        _check_values(values)
        if weights is not None:
            values = np.repeat(values, weights.astype(np.int64))
        listed = values.tolist()
        if self.sorted:
            ascending = len(listed) < 2 or bool(np.all(values[1:] >= values[:-1]))
            self.sorted = ascending and (not self.values or self.values[-1] <= listed[0])
        self.values.extend(listed)
        self.max = max(self.max, float(values.max()))
        self.min = min(self.min, float(values.min()))

    def compress(self) -> None:
        if not self.sorted:
            self.values = java_sorted(np.array(self.values, dtype=np.float64)).tolist()
            self.sorted = True

    def centroids(self) -> tuple[list[float], list[int]]:
        self.compress()
        return list(self.values), [1] * len(self.values)

    def quantile(self, q: float) -> float:
        self.compress()
        return dist_quantile(q, np.array(self.values, dtype=np.float64))

    def cdf(self, x: float) -> float:
        self.compress()
        return dist_cdf(x, np.array(self.values, dtype=np.float64))


class MergingDigest:
    """MergingDigest with ES's defaults: the weight limit (useWeightLimit), alternating merge
    direction and two-level compression, K_2 as the scale function."""

    def __init__(self, compression: float):
        if compression < 10:
            compression = 10.0
        size_fudge = 10.0
        size = int(max(compression + size_fudge, -1))
        buffer_size = 5 * size
        scale = max(1, buffer_size // size - 1)
        self.public_compression = compression
        self.compression = math.sqrt(scale) * compression
        if size < self.compression + size_fudge:
            size = math.ceil(self.compression + size_fudge)
        if buffer_size <= 2 * size:
            buffer_size = 2 * size
        self.capacity = size  # mean.size(): the most centroids a merge keeps
        self.buffer_size = buffer_size
        self.mean: list[float] = []
        self.weight: list[float] = []
        self.temp_mean: list[float] = []
        self.temp_weight: list[float] = []
        self.total_weight = 0.0
        self.unmerged_weight = 0.0
        self.merge_count = 0
        self.min = math.inf
        self.max = -math.inf

    def size(self) -> int:
        return int(self.total_weight + self.unmerged_weight)

    def add_many(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        """add(x, w) for each value in order (weights 1 without `weights`); NaN and the
        infinities are refused (checkValue)."""
        _check_values(values)
        done, total = 0, len(values)
        while done < total:
            room = self.buffer_size - len(self.mean) - 1 - len(self.temp_mean)
            if room <= 0:
                self._merge_new_values(self.compression)
                continue
            chunk = values[done:done + room]
            if weights is None:
                chunk_weights = [1.0] * len(chunk)
                added = float(len(chunk))
            else:
                chunk_weight_array = weights[done:done + room].astype(np.float64)
                chunk_weights = chunk_weight_array.tolist()
                added = float(chunk_weight_array.sum())
            self.temp_mean.extend(chunk.tolist())
            self.temp_weight.extend(chunk_weights)
            # Java adds w one at a time; whole-number weights add exactly, so one sum is the same
            self.unmerged_weight += added
            low, high = float(chunk.min()), float(chunk.max())
            if low < self.min:
                self.min = low
            if high > self.max:
                self.max = high
            done += len(chunk)

    def compress(self) -> None:
        self._merge_new_values(self.public_compression)

    def _merge_new_values(self, compression: float) -> None:
        if self.total_weight == 0 and self.unmerged_weight == 0:
            return
        if self.unmerged_weight > 0:
            self._merge(self.unmerged_weight, self.merge_count % 2 == 1, compression)
            self.merge_count += 1
            self.temp_mean, self.temp_weight = [], []
            self.unmerged_weight = 0.0

    def _merge(self, unmerged_weight: float, backwards: bool, compression: float) -> None:
        incoming_mean = self.temp_mean + self.mean
        incoming_weight = self.temp_weight + self.weight
        count = len(incoming_mean)
        order = np.argsort(java_order_keys(np.array(incoming_mean, dtype=np.float64)), kind="stable").tolist()
        self.total_weight += unmerged_weight
        total = self.total_weight
        if backwards:
            order.reverse()
        first = order[0]
        mean = [incoming_mean[first]]
        weight = [incoming_weight[first]]
        w_so_far = 0.0
        normalizer = compression / (4 * math.log(total / compression) + 24)  # K_2.normalizer
        for i in range(1, count):
            ix = order[i]
            w_ix = incoming_weight[ix]
            proposed = weight[-1] + w_ix
            if i == 1 or i == count - 1:
                add_this = False
            else:
                q0 = w_so_far / total
                q2 = (w_so_far + proposed) / total
                add_this = proposed <= total * min(q0 * (1 - q0) / normalizer, q2 * (1 - q2) / normalizer)
            if len(mean) == self.capacity:  # the last centroid there is room for takes the rest
                add_this = True
            if add_this:
                weight[-1] += w_ix
                mean[-1] = mean[-1] + (incoming_mean[ix] - mean[-1]) * w_ix / weight[-1]
            else:
                w_so_far += weight[-1]
                mean.append(incoming_mean[ix])
                weight.append(w_ix)
        if backwards:
            mean.reverse()
            weight.reverse()
        self.mean, self.weight = mean, weight
        if total > 0:
            self.min = min(self.min, mean[0])
            self.max = max(self.max, mean[-1])

    def centroids(self) -> tuple[list[float], list[int]]:
        self._merge_new_values(self.compression)
        return list(self.mean), [int(w) for w in self.weight]

    def quantile(self, q: float) -> float:
        if q < 0 or q > 1:
            raise IllegalArgument(f"q should be in [0,1], got {java_double(q)}")
        self._merge_new_values(self.compression)
        mean, weight = self.mean, self.weight
        n = len(mean)
        if n == 0:
            return math.nan
        if n == 1:
            return mean[0]
        total = self.total_weight
        index = q * total  # the offset in the sorted values
        if index < 0:
            return self.min
        if index >= total:
            return self.max
        weight_so_far = weight[0] / 2
        if weight[0] > 1 and index < weight_so_far:  # one sample sits at min: interpolate with less weight
            return weighted_average(self.min, weight_so_far - index, mean[0], index)
        if weight[n - 1] > 1 and total - index <= weight[n - 1] / 2:  # one sample sits at max
            return self.max - (total - index - 1) / (weight[n - 1] / 2 - 1) * (self.max - mean[n - 1])
        for i in range(n - 1):  # between the extremes: interpolate between centroids
            dw = (weight[i] + weight[i + 1]) / 2
            if weight_so_far + dw > index:
                z1 = index - weight_so_far
                z2 = weight_so_far + dw - index
                return weighted_average(mean[i], z2, mean[i + 1], z1)
            weight_so_far += dw
        z1 = index - weight_so_far  # between the last mean and max
        z2 = weight[n - 1] / 2.0 - z1
        return weighted_average(mean[n - 1], z1, self.max, z2)

    def cdf(self, x: float) -> float:
        _check_value(x)
        self._merge_new_values(self.compression)
        mean, weight = self.mean, self.weight
        n = len(mean)
        if n == 0:
            return math.nan
        lo, hi = self.min, self.max
        if n == 1:
            if x < lo:
                return 0.0
            if x > hi:
                return 1.0
            return 0.5
        size = float(self.size())
        if x < lo:
            return 0.0
        if java_compare(x, lo) == 0:  # one or more centroids at x, taken as one
            dw = 0.0
            i = 0
            while i < n and java_compare(mean[i], x) == 0:
                dw += weight[i]
                i += 1
            return dw / 2.0 / size
        if x > hi:
            return 1.0
        if x == hi:
            dw = 0.0
            i = n - 1
            while i >= 0 and java_compare(mean[i], x) == 0:
                dw += weight[i]
                i -= 1
            return (size - dw / 2.0) / size
        left = (mean[1] - mean[0]) / 2  # the left width starts equal to the right one
        weight_so_far = 0.0
        for i in range(n - 1):
            right = (mean[i + 1] - mean[i]) / 2
            if x < mean[i] + right:
                value = (weight_so_far + weight[i] * interpolate(x, mean[i] - left, mean[i] + right)) / size
                return max(value, 0.0)
            weight_so_far += weight[i]
            left = right
        last = n - 1  # the last centroid: its right width is taken as its left one
        right = (mean[last] - mean[last - 1]) / 2
        if x < mean[last] + right:
            share = interpolate(x, mean[last] - right, mean[last] + right)
            return (weight_so_far + weight[last] * share) / size
        return 1.0


class HybridDigest:
    """TDigestState's default digest: a SortingDigest up to round(compression) * 20 values,
    then a MergingDigest (HybridDigest.reserve decides the switch before each addition)."""

    def __init__(self, compression: float):
        self.compression = compression
        self.max_sorting_size = java_round(compression) * 20
        self.sorting: SortingDigest | None = SortingDigest()
        self.merging: MergingDigest | None = None

    @property
    def impl(self) -> SortingDigest | MergingDigest:
        return self.merging if self.merging is not None else self.sorting

    def size(self) -> int:
        return self.impl.size()

    def reserve(self, size: int) -> None:
        if self.merging is not None:
            return
        if self.sorting.size() + size >= self.max_sorting_size:
            merging = MergingDigest(self.compression)
            merging.add_many(np.array(self.sorting.values, dtype=np.float64))
            self.merging, self.sorting = merging, None

    def add_values(self, values: np.ndarray) -> None:
        """add(x) for each value in order: the switch happens at the value that would make
        the sorting digest reach its limit."""
        values = np.asarray(values, dtype=np.float64)
        if self.merging is None:
            fits = max(0, self.max_sorting_size - 1 - self.sorting.size())
            self.sorting.add_many(values[:fits])
            values = values[fits:]
            if not len(values):
                return
            self.reserve(1)
        self.merging.add_many(values)

    def add_digest(self, means: list[float], counts: list[int]) -> None:
        """add(TDigest other): reserve its size, then each of its centroids in order."""
        if not means:
            return
        self.reserve(int(sum(counts)))
        self.impl.add_many(np.array(means, dtype=np.float64), np.array(counts, dtype=np.int64))

    def compress(self) -> None:
        self.impl.compress()

    def quantile(self, q: float) -> float:
        return self.impl.quantile(q)

    def cdf(self, x: float) -> float:
        return self.impl.cdf(x)

    def to_partial(self) -> dict[str, Any]:
        """The state as plain data (TDigestState.write: compression and centroids; min and
        max too, which the reduce's digest tracks from the same centroids)."""
        means, counts = self.impl.centroids()
        impl = self.impl
        return {"compression": self.compression, "means": means, "counts": counts,
                "merging": self.merging is not None,
                "min": impl.min if means else None, "max": impl.max if means else None}

    @classmethod
    def from_partial(cls, partial: dict[str, Any]) -> HybridDigest:
        """The digest a partial describes, as it stood (no re-merging): for reading results."""
        digest = cls(partial["compression"])
        means, counts = partial["means"], partial["counts"]
        if partial["merging"]:
            merging = MergingDigest(digest.compression)
            merging.mean = [float(m) for m in means]
            merging.weight = [float(c) for c in counts]
            merging.total_weight = float(sum(counts))
            merging.min, merging.max = partial["min"], partial["max"]
            digest.merging, digest.sorting = merging, None
        else:
            sorting = digest.sorting
            sorting.values = [float(m) for m in means]
            if means:
                sorting.min, sorting.max = partial["min"], partial["max"]
        return digest


def reduce_partials(partials: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """AbstractInternalTDigestPercentiles.reduce: a new digest with the first state's
    compression takes every shard's state in shard order, then is compressed as the reduced
    result's constructor compresses it. None when no shard had a state."""
    states = [p for p in partials if p is not None]
    if not states:
        return None
    merged = HybridDigest(states[0]["compression"])
    for state in states:  # one request's states share its compression
        merged.add_digest(state["means"], state["counts"])
    merged.compress()
    return merged.to_partial()


def shard_partial(values: np.ndarray, compression: float) -> dict[str, Any] | None:
    """One shard's state: every value added in collection order, then compressed (the
    InternalTDigestPercentiles constructor compresses it). None for no values."""
    if not len(values):
        return None
    digest = HybridDigest(compression)
    digest.add_values(values)
    digest.compress()
    return digest.to_partial()
