"""DuckDB extensions, loaded offline from their PyPI packages (they cannot be downloaded at
run time). The packages are pinned to the DuckDB version in pyproject.toml."""

import importlib.util
import shutil
from pathlib import Path

import duckdb

from da_cli import paths
from da_cli.errors import DataError

# extension -> (package, file inside it, name DuckDB expects when loading by path)
_PACKAGES = {
    "excel": ("duckdb_extension_excel", "excel.duckdb_extension", "excel.duckdb_extension"),
    # DuckDB derives the init symbol from the file name, and the sqlite extension's real
    # name is sqlite_scanner, so the file must be copied under that name.
    "sqlite": (
        "duckdb_extension_sqlite",
        "sqlite.duckdb_extension",
        "sqlite_scanner.duckdb_extension",
    ),
}


def extension_path(name: str) -> Path:
    package, filename, load_name = _PACKAGES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"The DuckDB {name} extension is not installed (package {package}).",
            hint=f"pip install {package.replace('_', '-')}=={duckdb.__version__}",
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    shipped = root / "extensions" / f"v{duckdb.__version__}" / filename
    if not shipped.is_file():
        raise DataError(
            f"The DuckDB {name} extension for DuckDB {duckdb.__version__} is missing "
            f"from package {package}."
        )
    if load_name == filename:
        return shipped
    target = paths.cache_dir() / "duckdb" / f"v{duckdb.__version__}" / load_name
    if not target.is_file() or target.stat().st_size != shipped.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(shipped, tmp)
        tmp.replace(target)
    return target


def load_statement(name: str) -> str:
    return f"LOAD '{extension_path(name)}'"
