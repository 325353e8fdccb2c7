# Runs AWS CLI v1 command lines through the AWS CLI's own driver in one process, offline: reads a
# JSON list of argument lists on stdin and prints, for each, the exit code and its stderr. With no
# configuration and no credentials, a command the CLI accepts (its arguments, and the request
# validated against the service model) stops at "Unable to locate credentials" before any network
# call. One process because each `aws` start costs ~1 s CPU. (AWS CLI v2 is not Python: the tests
# start it once per command instead.)
import contextlib
import io
import json
import sys

from awscli.clidriver import create_clidriver

results = []
for argv in json.load(sys.stdin):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = create_clidriver().main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except Exception as error:  # a crash is a result too, reported with its text
            code = 'crash'
            err.write(repr(error))
    results.append({'argv': argv, 'code': code, 'stderr': err.getvalue()})
sys.__stdout__.write(json.dumps(results))
