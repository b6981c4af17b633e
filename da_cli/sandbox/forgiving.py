"""What the sandbox forgives small models' code: names, paths and columns they guess,
arguments a library has since removed.

Pure functions with no import of da, so `da report --emit-script` copies this module
verbatim into the script, which then reads the same files as the cells did in the sandbox.
"""

import importlib.abc
import importlib.util
import inspect
import os
import re
import sys
import unicodedata

# With one table, the names small models reach for first (`df.groupby(...)`) mean it.
SINGLE_TABLE_NAMES = ("df", "data")

# pandas readers and the name of the argument that holds the path.
READERS = {
    "read_csv": "filepath_or_buffer",
    "read_table": "filepath_or_buffer",
    "read_excel": "io",
    "read_parquet": "path",
    "read_json": "path_or_buf",
}


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def data_file(path, sources: list[str]):
    """The user's data file a small model meant by a path that does not exist, else `path`.

    Small models write `pd.read_csv("path/to/sales.csv")`, spell a file with spaces the way
    its table is named (`beauty_and_the_labor_market.csv`), or guess `data.csv`. Such a path
    means the data file with that base name, with that name once spelling is ignored, or
    the only data file of that type, in this order; anything else fails as it would."""
    if not isinstance(path, (str, os.PathLike)) or os.path.exists(path):
        return path
    name = os.path.basename(os.fspath(path))
    if "://" in os.fspath(path) or not name:
        return path
    here = [s for s in sources if os.path.isfile(s)]
    for meant in (
        [s for s in here if s == name],
        [s for s in here if _norm(s) == _norm(name)],
        [s for s in here if os.path.splitext(s)[1].lower() == os.path.splitext(name)[1].lower()],
    ):
        if len(meant) == 1:
            print(f'(no file "{path}": read "{meant[0]}", the data file here)', file=sys.stderr)
            return meant[0]
    return path


_DATA_SUFFIX = re.compile(r"\.(?:csv|tsv|txt|xlsx?|parquet|jsonl?|ndjson|sqlite3?|db)$", re.I)


def table_meant(name, tables: list[str]):
    """The table a small model meant by a name that is none, else `name`. Models load the
    data file by its own name (`load("imp.score.ldlr.metabolome")` for the table
    `imp_score_ldlr_metabolome`, `load("sales.csv")`): a name that matches exactly one
    table once spelling and a data file's extension are ignored means that table."""
    if not isinstance(name, str) or name in tables:
        return name
    # Spelled as da names a table (data/catalog.py: word characters, any script; a digit
    # first gets "t_").
    stem = re.sub(r"\W+", "_", unicodedata.normalize("NFKC", _DATA_SUFFIX.sub("", name)))
    stem = stem.strip("_").lower()
    if not stem:
        return name
    spellings = {stem, f"t_{stem}"} if stem[0].isdigit() else {stem}
    meant = [t for t in tables if t.lower() in spellings]
    if len(meant) == 1:
        print(f'(no table "{name}": loaded "{meant[0]}")', file=sys.stderr)
        return meant[0]
    return name


def forgive_paths(pd, sources: list[str]) -> None:
    """Make pandas' readers take the path a small model meant (see `data_file`)."""
    for reader, argument in READERS.items():
        original = getattr(pd, reader)

        def forgiving(*args, _original=original, _argument=argument, **kwargs):
            if args:
                args = (data_file(args[0], sources), *args[1:])
            elif _argument in kwargs:
                kwargs[_argument] = data_file(kwargs[_argument], sources)
            return _original(*args, **kwargs)

        forgiving.__doc__, forgiving.__name__ = original.__doc__, original.__name__
        setattr(pd, reader, forgiving)


def column_meant(key, columns):
    """The column a small model meant by a name that is none, else `key`: the one column
    with that name but for case, spaces and punctuation (`'wind_speed'` for `'wind speed'`,
    `'Whole Weight'` for `'Whole weight'`). Questions spell columns their own way; the 1.5B,
    told the right name in the error, wrote the question's spelling again until its budget
    ran out, in 7 of the 8 DABench analyses that met such an error."""
    if not isinstance(key, str) or key in columns:
        return key
    squeezed = _squeezed(key)
    meant = [c for c in columns if isinstance(c, str) and _squeezed(c) == squeezed]
    return meant[0] if squeezed and len(meant) == 1 else key


def _squeezed(name: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", name)).lower()


def forgive_columns(pd) -> None:
    """Make `df['name']` and `df[['a', 'b']]` take the column a small model meant (see
    `column_meant`), saying so; any other key fails as it would."""
    original = pd.DataFrame.__getitem__

    def getitem(self, key, _original=original):
        try:
            return _original(self, key)
        except KeyError:
            keys = [key] if isinstance(key, str) else key
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise
            meant = [column_meant(k, self.columns) for k in keys]
            if meant == keys:
                raise
            for said, used in zip(keys, meant, strict=True):
                if said != used:
                    print(f'(no column "{said}": used "{used}")', file=sys.stderr)
            return _original(self, meant[0] if isinstance(key, str) else meant)

    getitem.__doc__ = original.__doc__
    pd.DataFrame.__getitem__ = getitem


def field_claims(name: str, field: str) -> bool:
    """Whether a variable's name says it holds this field: `p_value`, `pval` and `p` say
    pvalue, `t_stat` says statistic, `r_value` rvalue."""
    n, f = name.lower().replace("_", ""), field.lower().replace("_", "")
    return f in n or (len(f) >= 5 and f[:4] in n) or n == f[0]


def fields_meant(value, names: tuple[str, ...]):
    """A result with named fields (scipy's tests: statistic, pvalue) unpacked into names
    that say which field each means, in another order, gets its fields as the names say:
    `p_value, _ = pearsonr(x, y)` gives p_value the p-value. Warned that p_value got the
    statistic, the 1.5B answered the statistic as the p-value in 4 of the 5 DABench
    analyses that met the warning. Names that claim no field take the rest in order; a name
    that claims two fields, or two names that claim one, leave the value as it is."""
    fields = getattr(value, "_fields", None)
    if not (isinstance(value, tuple) and isinstance(fields, tuple)):
        return value
    if not len(fields) == len(value) == len(names):
        return value
    claimed = [[f for f in fields if field_claims(n, f)] for n in names]
    taken = [c[0] for c in claimed if c]
    if any(len(c) > 1 for c in claimed) or len(set(taken)) < len(taken):
        return value
    rest = iter(f for f in fields if f not in taken)
    order = [c[0] if c else next(rest) for c in claimed]
    if order == list(fields):
        return value
    gave = " and ".join(f"{n} its {f}" for n, f in zip(names, order, strict=True))
    kind = type(value).__name__
    print(f"({kind} is ({', '.join(fields)}): gave {gave}, as the names say)", file=sys.stderr)
    return tuple(value[fields.index(f)] for f in order)


def forgive_squared(metrics) -> None:
    """Make `mean_squared_error(..., squared=False)` (and `mean_squared_log_error`'s) the
    root, as it was before scikit-learn 1.6 removed the argument: small models learned the
    old call, and the 1.5B, told that root_mean_squared_error replaces it, dropped
    `squared=False` and answered the mean squared error as the RMSE (2 of the 3 DABench
    analyses that met the error)."""
    for name in ("mean_squared_error", "mean_squared_log_error"):
        original, root = getattr(metrics, name, None), getattr(metrics, f"root_{name}", None)
        if original is None or root is None:
            continue
        if "squared" in inspect.signature(original).parameters:
            continue

        def forgiving(*args, squared=True, _original=original, _root=root, **kwargs):
            if squared:
                return _original(*args, **kwargs)
            print(f"(no squared= since scikit-learn 1.6: ran {_root.__name__})", file=sys.stderr)
            return _root(*args, **kwargs)

        forgiving.__doc__, forgiving.__name__ = original.__doc__, original.__name__
        setattr(metrics, name, forgiving)


class _AfterImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs `patch(module)` once a module is imported: the sandbox does not import
    scikit-learn until a cell does, and most never do."""

    def __init__(self, name: str, patch) -> None:
        self.name, self.patch, self.loader = name, patch, None

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name or self.loader is not None:
            return None
        sys.meta_path.remove(self)  # the other finders find the module itself
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        self.loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        sys.meta_path.remove(self)
        self.patch(module)


def forgive_removed_arguments() -> None:
    """Forgive arguments libraries have removed (`forgive_squared`), now or on import."""
    if "sklearn.metrics" in sys.modules:
        forgive_squared(sys.modules["sklearn.metrics"])
    else:
        sys.meta_path.insert(0, _AfterImport("sklearn.metrics", forgive_squared))
