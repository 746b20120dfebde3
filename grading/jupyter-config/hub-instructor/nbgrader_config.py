"""nbgrader for instructors on the workshop server (JupyterHub): the course's own configuration
(grading/nbgrader_config.py: sources, feedback filters, the guarded autograder) for the
instructor's copy of the course in ~/course, and the class's exchange. The hub sets
TINYMLKIT_REPO, TINYMLKIT_COURSE_ROOT and TINYMLKIT_EXCHANGE (grading/hub_spawner.py)."""
import os
import pathlib

c = get_config()  # noqa: F821 (provided by nbgrader)
load_subconfig(str(pathlib.Path(os.environ["TINYMLKIT_REPO"]) / "grading" / "nbgrader_config.py"))  # noqa: F821
course = pathlib.Path(os.environ["TINYMLKIT_COURSE_ROOT"])
c.CourseDirectory.root = str(course)
c.CourseDirectory.db_url = f"sqlite:///{course / 'grading' / 'gradebook.db'}?timeout=60"
c.Exchange.root = os.environ["TINYMLKIT_EXCHANGE"]
