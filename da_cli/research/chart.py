"""da's own cell for an angle: its fixed query, the table printed, a one-line reading of it
and a chart. It runs in the same sandbox as the model's code (so its output is evidence like
any other) when the model's code drew no figure or its answer showed no number; the code is
plain and deterministic, and says in its first line that da, not the model, wrote it."""

from da_cli.research.survey import Angle

MARK = "# Made by da, not by the model"
READING = "Reading: "  # the prefix of the reading line in the cell's output
COLOR = "#2f6690"


def _q(s: str) -> str:
    return repr(s)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def cell(angle: Angle, why: str) -> str:
    """Python source of da's cell for `angle`; `why` says why da ran it (a comment)."""
    label, value = _q(angle.label), _q(angle.value)
    lines = [
        f"{MARK}: {why}.",
        "import matplotlib.pyplot as plt",
        "from matplotlib.ticker import FuncFormatter",
        "",
        "",
        "def _n(v):",
        '    return f"{v:,.2f}" if float(v) % 1 else f"{int(v):,}"',
        "",
        "",
        "def _axis(v, _=None):",
        "    for size, unit in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')):",
        "        if abs(v) >= size:",
        "            return f'{v / size:g}{unit}'",
        "    return f'{v:g}'",
        "",
        "",
        f'da_table = sql("""\n{angle.sql}\n""")',
        "print(da_table.to_string(index=False, float_format=_n))",
        "rows = da_table.to_dict('records')",
        f"label, value = {label}, {value}",
        "if not rows:",
        f'    print("{READING}the query returned no rows.")',
        "else:",
        *["    " + line for line in _reading(angle)],
        *["    " + line for line in _chart(angle)],
    ]
    return "\n".join(lines)


def _reading(angle: Angle) -> list[str]:
    if angle.kind == "trend":
        return [
            "first, last = rows[0], rows[-1]",
            "peak = max(rows, key=lambda r: r[value])",
            "low = min(rows, key=lambda r: r[value])",
            "print(",
            f'    f"{READING}{_cap(angle.measure)} was {{_n(first[value])}} in "',
            '    f"{first[label]} and "',
            '    f"{_n(last[value])} in {last[label]}; highest {_n(peak[value])} in "',
            '    f"{peak[label]}, lowest {_n(low[value])} in {low[label]}."',
            ")",
        ]
    if angle.kind == "top":
        return [
            "top = rows[0]",
            f'line = f"{{top[label]}} has the highest {angle.measure}, {{_n(top[value])}}"',
            "if len(rows) > 1:",
            '    line += f", ahead of {rows[1][label]} ({_n(rows[1][value])})"',
            f'print("{READING}" + line + ".")',
        ]
    return [
        "top, total = rows[0], sum(r[value] for r in rows)",
        f'line = f"{{top[label]}} has the largest {angle.measure}, '
        '{_n(top[value])} of {_n(total)}"',
        "if total:",
        '    line += f" ({100 * top[value] / total:.1f} %)"',
        "if len(rows) > 1:",
        '    line += f", ahead of {rows[1][label]} ({_n(rows[1][value])})"',
        f'print("{READING}" + line + ".")',
    ]


def _chart(angle: Angle) -> list[str]:
    lines = [
        "fig, ax = plt.subplots(figsize=(7, 3.4))",
        "names = [str(r[label]) for r in rows]",
        "values = [r[value] for r in rows]",
    ]
    if angle.chart == "barh":
        lines += [
            f"ax.barh(names[::-1], values[::-1], color={_q(COLOR)})",
            "ax.xaxis.set_major_formatter(FuncFormatter(_axis))",
            "ax.set_xlabel(value)",
        ]
    elif angle.chart == "line":
        lines += [
            f"ax.plot(names, values, marker='o', markersize=3, color={_q(COLOR)})",
            "step = max(1, len(names) // 12)",  # at most about a dozen tick labels
            "ax.set_xticks(range(0, len(names), step))",
            "ax.set_xticklabels(names[::step], rotation=45, ha='right')",
            "ax.set_ylim(bottom=0)",
            "ax.yaxis.set_major_formatter(FuncFormatter(_axis))",
            "ax.set_ylabel(value)",
        ]
    else:
        lines += [
            f"ax.bar(names, values, color={_q(COLOR)})",
            "if len(names) > 5 or max(len(n) for n in names) > 10:",
            "    plt.setp(ax.get_xticklabels(), rotation=30, ha='right')",
            "ax.yaxis.set_major_formatter(FuncFormatter(_axis))",
            "ax.set_ylabel(value)",
        ]
    lines += [
        f"ax.set_title({_q(angle.title)})",
        "ax.spines[['top', 'right']].set_visible(False)",
        "fig.text(0.99, 0.01, 'chart made by da', ha='right', va='bottom', fontsize=7, "
        "color='grey')",
        "fig.tight_layout()",
    ]
    return lines
