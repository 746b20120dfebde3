"""The names of classes and people, and the one checker for them (issue #14: one owner).

A class label travels far: it becomes a folder and a file name (``<label>/<label>.<person>.001.csv``,
``<label>/<label>.<speaker_id>.001.wav``), a field of the kit's ``#RESULT`` line
(``hardware/PROTOCOL.md``: ``label=<name>``, space- and comma-separated) and a C string in
``model_settings.h``. :func:`check_label` is the one rule that keeps all of those safe;
``spoken=True`` adds the rule for keyword recordings (a word a person says). Speaker and person
codes are part of file names: :func:`check_speaker_id`.

Two spellings of the keyword track's special classes are in use, both from the field, and both
live here:

* the **model's class names** ``"silence"`` and ``"unknown"``: micro_speech's labels
  (tflite-micro ``tensorflow/lite/micro/examples/micro_speech/micro_model_settings.h``,
  ``kCategoryLabels = {"silence", "unknown", "yes", "no"}``), used by the shipped sets and every course model;
* the **recording labels** ``"_silence_"`` and ``"_unknown_"``: Speech Commands' names
  (tensorflow ``tensorflow/examples/speech_commands/input_data.py``: ``SILENCE_LABEL =
  '_silence_'``, ``UNKNOWN_WORD_LABEL = '_unknown_'``), used by the capture tools so a recorded
  special class can never be mistaken for someone saying the word "silence".

:data:`SILENCE_WORDS` and :data:`UNKNOWN_WORDS` hold both spellings.
"""

from __future__ import annotations

import re

__all__ = ["SILENCE_CLASS", "UNKNOWN_CLASS", "SILENCE_LABEL", "UNKNOWN_LABEL", "SILENCE_WORDS",
           "UNKNOWN_WORDS", "MAX_LABEL_CHARS", "check_label", "check_speaker_id"]

#: The model's class for "no word, only the room" (micro_speech's label).
SILENCE_CLASS = "silence"
#: The model's class for "a word that is none of the keywords" (micro_speech's label).
UNKNOWN_CLASS = "unknown"
#: Recording label for "no word, only the room" (Speech Commands' ``_silence_``).
SILENCE_LABEL = "_silence_"
#: Recording label for "a word that is none of the keywords" (Speech Commands' ``_unknown_``);
#: the plain word ``unknown`` is accepted too.
UNKNOWN_LABEL = "_unknown_"
#: Both spellings of the silence class.
SILENCE_WORDS = (SILENCE_CLASS, SILENCE_LABEL)
#: Both spellings of the unknown class.
UNKNOWN_WORDS = (UNKNOWN_CLASS, UNKNOWN_LABEL)
#: Longest label, in characters (it is a folder name and part of every file name under it).
MAX_LABEL_CHARS = 40

_LABEL_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
_SPOKEN_RE = re.compile(r"^_?[A-Za-z]+(_[A-Za-z]+)*_?$")
_SPEAKER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def check_label(label, *, spoken: bool = False) -> str:
    """``label`` if it is a valid class label, else ValueError saying why.

    Every label: 1 to :data:`MAX_LABEL_CHARS` characters of letters, digits, ``_`` and ``-``, not
    starting with ``-`` (a folder and file name, a ``#RESULT`` field, a C string).

    Args:
        label: the class label (str), e.g. ``"WAVE"``, ``"yes"``, ``"_silence_"``.
        spoken: the label of a keyword recording: letters only (``"yes"``, ``"seven"``), or a
            special name of letters joined and wrapped by ``_`` (:data:`SILENCE_LABEL`).

    Returns:
        ``label``, unchanged.

    Raises:
        ValueError: ``label`` is not a str or breaks the rule; the message says the rule.
    """
    ok = isinstance(label, str) and 0 < len(label) <= MAX_LABEL_CHARS
    if spoken:
        if not (ok and _SPOKEN_RE.match(label)):
            raise ValueError(f"label {label!r}: use letters only (e.g. 'yes', 'seven'), or a special "
                             f"name of letters joined and wrapped by '_' such as '{SILENCE_LABEL}' or "
                             f"'{UNKNOWN_LABEL}'; at most {MAX_LABEL_CHARS} characters (it becomes a "
                             "folder and file name)")
    elif not (ok and _LABEL_RE.match(label)):
        raise ValueError(f"label {label!r}: use letters, digits, '_' and '-' only (no blanks, '=', ',' "
                         f"or dots), not starting with '-', at most {MAX_LABEL_CHARS} characters: it "
                         "becomes a folder and file name and a field of the kit's #RESULT line")
    return label


def check_speaker_id(speaker_id, what: str = "speaker_id") -> str:
    """``speaker_id`` if it is safe in a file name, else ValueError saying why.

    Args:
        speaker_id: a code for a speaker or a person wearing the kit (str): letters, digits,
            ``-`` and ``_``, starting with a letter or digit, at most 64 characters.

    Returns:
        ``speaker_id``, unchanged.

    Raises:
        ValueError: it is not a str or breaks the rule (the message says the rule, and to use a
            code such as ``s07``, not a name).
        what: the name the message gives it (``"person"`` for who wears a motion kit).
    """
    if not isinstance(speaker_id, str) or len(speaker_id) > 64 or not _SPEAKER_RE.match(speaker_id):
        raise ValueError(f"{what} {speaker_id!r}: use letters, digits, '-' and '_' only, starting "
                         "with a letter or digit, at most 64 characters (it becomes part of a file "
                         "name, so no dots, spaces or slashes); use a code such as 's07', not a name")
    return speaker_id
