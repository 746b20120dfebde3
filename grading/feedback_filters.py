"""nbgrader preprocessor for feedback: students see which hidden checks failed, never their code.

``ClearHiddenTests`` removes the hidden-test region from each test cell's source; this one also
cuts every error output down to its last line ("AssertionError: the list of recordings ... is not
right"), because a full traceback quotes the hidden line that failed.
"""

from nbgrader.preprocessors import NbGraderPreprocessor


class TrimTracebacks(NbGraderPreprocessor):
    """Keep only the error name and message of every error output."""

    def preprocess_cell(self, cell, resources, index):
        """Replace each error output's traceback by ``ename: evalue``."""
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
