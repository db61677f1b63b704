"""A benchmark row and the table `make bench` prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    name: str
    ours: float
    reference: float
    reference_name: str
    unit: str
    higher_is_better: bool = True

    @property
    def ratio(self) -> float:
        """Ours as a fraction of the reference: 1.0 means we match the peer or the limit."""
        if self.higher_is_better:
            return self.ours / self.reference
        return self.reference / self.ours


def render(rows: list[Row]) -> str:
    header = ("benchmark", "ours", "reference", "reference is", "ours/ref")
    lines = [
        (
            r.name,
            f"{r.ours:,.1f} {r.unit}",
            f"{r.reference:,.1f} {r.unit}",
            r.reference_name,
            f"{r.ratio:.2f}",
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    out.append("ours/ref: 1.00 = as good as the reference (for latencies: reference / ours).")
    return "\n".join(out)
