"""The one mark of an error that means the input or the setup is wrong.

`switchyard` ends a command that raised one with exit code 2 and its message on one line
(switchyard/cli/main.py), without a traceback: a bad setting, a component down, a record
or topic the tools refuse. Every layer's such errors subclass it, so the CLI needs one
``isinstance`` check and imports none of the modules that define them.

Standard library only, and nothing imported: the CLI imports it for every command,
`--help` included.
"""


class UsageProblem(Exception):
    """The input or the setup is wrong; the message says what and where (one line)."""
