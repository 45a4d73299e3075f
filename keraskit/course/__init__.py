"""keraskit.course: the tooling of the keraskit course, apart from the library.

What only the lessons, the exercises and their instructors need lives here:
teaching datasets (`keraskit.course.data`), the lessons' figures
(`keraskit.course.viz`), the exercise checks and the notebook grader
(`keraskit.course.grading`, the `keraskit grade` command), running a script
under another backend (`keraskit.course.backends`) and the demo.
The library (`keraskit.layers`, `keraskit.models`, `keraskit.training`) never
imports this package; see docs/architecture.md for why the border is here.

Install its dependencies with `pip install "keraskit[course]"` (lessons) or
`pip install "keraskit[grading]"` (the grader).
"""
