"""nbgrader for students on the workshop server (JupyterHub): the course's exchange, nothing else.
The hub sets TINYMLKIT_EXCHANGE (grading/hub_spawner.py)."""
import os

c = get_config()  # noqa: F821 (provided by nbgrader)
c.CourseDirectory.course_id = "tinymlkit"
c.Exchange.root = os.environ["TINYMLKIT_EXCHANGE"]
