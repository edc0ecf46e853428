"""Medians, spreads, same-run ratios and the markdown tables.

A cell is the median of the repeats with its spread, ``±x%`` = half the
min-max range relative to the median.  A ratio is ours divided by the other
implementation's value, computed per repeat (both measured in the same round
of the same run) and then reduced to the median.
"""
import statistics

__all__ = ["Metric", "summarize", "ratio", "fmt", "table", "error_notes"]

NOT_IMPLEMENTED = "n/a (not implemented)"


class Metric:
    """One row of a table: a value computed from a worker's JSON result.

    ``better`` is "lower" or "higher"; ``not_for`` lists implementations the
    metric does not apply to (shown "n/a"); ``target`` is None or a tuple
    ``(kind, value)`` with kind "max" (ours below value), "min" (ours at
    least value), "min_ratio_c"
    (ours/C at least value) or "max_ratio_c" (ours/C at most value).
    """

    def __init__(self, label, unit, compute, better="lower", target=None, info=False,
                 not_for=()):
        self.label = label
        self.not_for = tuple(not_for)
        self.unit = unit
        self.compute = compute
        self.better = better
        self.target = target
        self.info = info

    def values(self, runs):
        """Per-repeat values (None where a run failed or the metric is missing)."""
        out = []
        for run in runs:
            try:
                out.append(None if run is None or "error" in run else self.compute(run))
            except (KeyError, ZeroDivisionError, TypeError):
                out.append(None)
        return out


def summarize(values):
    """``(median, spread_fraction, n)`` of the non-None values, or None."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    med = statistics.median(vals)
    spread = (max(vals) - min(vals)) / 2 / abs(med) if med else 0.0
    return med, spread, len(vals)


def ratio(ours, other):
    """Median over repeats of ours[i] / other[i] (pairs from the same round)."""
    pairs = [a / b for a, b in zip(ours, other) if a is not None and b]
    return statistics.median(pairs) if pairs else None


def fmt(x):
    """Three significant digits, no exponent for ordinary magnitudes."""
    if x is None:
        return "-"
    ax = abs(x)
    if ax >= 1000:
        return "{:,.0f}".format(x)
    if ax >= 100:
        return "%.0f" % x
    if ax >= 10:
        return "%.1f" % x
    if ax >= 1:
        return "%.2f" % x
    if ax >= 0.01:
        return "%.3f" % x
    return "%.2g" % x


def _cell(summary, note=None):
    if summary is None:
        return note or "failed (see below)"
    med, spread, n = summary
    text = "%s ±%.0f%%" % (fmt(med), spread * 100)
    return text + ("" if note is None else " " + note)


def _target_text(metric, ours_summary, ratio_c, baseline="C"):
    kind, value = metric.target
    if kind == "max":
        want = "< %s %s" % (fmt(value), metric.unit)
        got = None if ours_summary is None else ours_summary[0]
        ok = got is not None and got < value
    elif kind == "min":
        want = ">= %s %s" % (fmt(value), metric.unit)
        got = None if ours_summary is None else ours_summary[0]
        ok = got is not None and got >= value
    elif kind == "max_ratio_c":
        want = "<= %sx %s" % (fmt(value), baseline)
        got = ratio_c
        ok = got is not None and got <= value
    else:
        want = ">= %s of %s" % ("%.0f%%" % (value * 100), baseline)
        got = ratio_c
        ok = got is not None and got >= value
    if got is None:
        return want + ": not measured"
    return "%s: %s (%s)" % (want, "met" if ok else "MISSED", fmt(got))


def table(rows, impls, ours, baseline):
    """Markdown table.

    ``rows``: list of ``(workload_title, Metric, {impl: [per-repeat run dicts] or
    str})`` where a str is the reason there is no measurement.  ``impls``: the
    column order (labels); ``ours``: the label of our implementation;
    ``baseline``: the label ratios with a target refer to (C), or None.
    """
    others = [i for i in impls if i != ours]
    head = ["Workload", "Metric"] + impls + ["%s / %s" % (ours, o) for o in others]
    has_targets = any(m.target for _, m, _ in rows)
    if has_targets:
        head.append("Target (ours)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for title, metric, data in rows:
        arrow = "lower is better" if metric.better == "lower" else "higher is better"
        label = "%s [%s]" % (metric.label, metric.unit)
        if not metric.info:
            label += ", %s" % arrow
        per_impl = {}
        cells = [title, label]
        for impl in impls:
            runs = data.get(impl)
            if impl in metric.not_for:
                runs = "n/a"
            if isinstance(runs, str) or runs is None:
                cells.append(runs or "-")
                per_impl[impl] = None
                continue
            vals = metric.values(runs)
            per_impl[impl] = vals
            summary = summarize(vals)
            note = None
            if summary is not None and summary[2] < len(vals):
                note = "(%d/%d runs)" % (summary[2], len(vals))
            elif summary is None and runs and not any(r is None or "error" in r
                                                      for r in runs):
                note = "not measured"       # the runs did not measure this metric
            cells.append(_cell(summary, note))
        ratios = {}
        for other in others:
            if per_impl.get(ours) is None or per_impl.get(other) is None or metric.info:
                cells.append("-" if metric.info else "n/a")
                continue
            r = ratio(per_impl[ours], per_impl[other])
            ratios[other] = r
            cells.append("-" if r is None else fmt(r))
        if has_targets:
            if metric.target is None:
                cells.append("")
            else:
                ours_vals = per_impl.get(ours)
                cells.append(_target_text(metric, summarize(ours_vals) if ours_vals else None,
                                          ratios.get(baseline), baseline or "C"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def error_notes(workloads, results):
    """One line per workload and implementation with failed runs."""
    notes = []
    for w in workloads:
        for label, runs in results[w.key].items():
            if isinstance(runs, str):
                continue
            errors = [r["error"] for r in runs if "error" in r]
            if errors:
                notes.append("- %s / %s: %d of %d runs failed: %s"
                             % (w.title, label, len(errors), len(runs), errors[0][:200]))
    return notes
