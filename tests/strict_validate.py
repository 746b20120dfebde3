"""``nbgrader validate`` that also fails on an error in any code cell (tests/test_labs.py).

`make test` executes each model answer once, here: nbgrader's own Validate (the course's
configuration, the integrity guard, the hidden tests) checks the graded and locked cells, and this
adds what nbval would check, that no other cell raised. Usage, from grading/:
``python ../tests/strict_validate.py <notebook>``; the output is nbgrader's.
"""

from nbgrader.apps import validateapp
from nbgrader.validator import Validator


class ErrorsAnywhereValidator(Validator):
    """nbgrader's Validator; an ``error`` output in any code cell is a failure too (stderr text,
    e.g. a progress bar, is not)."""

    def _get_failed_cells(self, nb):
        failed = super()._get_failed_cells(nb)
        return failed + [cell for cell in nb.cells
                         if cell.cell_type == "code" and cell not in failed
                         and any(output.output_type == "error" for output in cell.outputs)]


if __name__ == "__main__":
    validateapp.Validator = ErrorsAnywhereValidator  # the app builds its Validator from this name
    validateapp.ValidateApp.launch_instance()
