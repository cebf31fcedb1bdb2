"""Contract checks for plugin authors: the checks every built-in backend and format passes.

Call them from your plugin's tests (they raise :class:`ContractCheckError`, an
``AssertionError``, listing every rule broken)::

    from splatkit.testing import check_format, check_stage_class, check_stage_run, synthetic_cloud

    def test_my_stage_keeps_the_contract(tmp_path):
        check_stage_class(MyCompressor)
        check_stage_run(MyCompressor, synthetic_cloud(500, sh_degree=2), tmp_path / "work")

    def test_my_format_keeps_the_contract(tmp_path):
        check_format(MyFormat, tmp_path)

splatkit's own suite runs every registered stage and format through the same functions
(``tests/plugins/test_backend_contracts.py``). This package imports only numpy and splatkit's
core; it never imports pytest, torch or a stage package.
"""

from splatkit.testing.contract_check_error import ContractCheckError
from splatkit.testing.format_checks import (
    check_format,
    check_format_class,
    check_format_reads,
    check_format_rejects_foreign_paths,
    check_format_survives_corruption,
)
from splatkit.testing.import_check import HEAVY_PACKAGES, check_import_is_light
from splatkit.testing.snapshot import fingerprint
from splatkit.testing.stage_checks import OUTPUT_TYPES, check_config_class, check_stage_class, check_stage_run
from splatkit.testing.synthetic import synthetic_cloud

__all__ = [
    "ContractCheckError",
    "HEAVY_PACKAGES",
    "OUTPUT_TYPES",
    "check_config_class",
    "check_format",
    "check_format_class",
    "check_format_reads",
    "check_format_rejects_foreign_paths",
    "check_format_survives_corruption",
    "check_import_is_light",
    "check_stage_class",
    "check_stage_run",
    "fingerprint",
    "synthetic_cloud",
]
