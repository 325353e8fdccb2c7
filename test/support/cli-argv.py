# Runs command lines of a Python cloud CLI through its own code, in one process, offline: reads a JSON
# list of argument lists on stdin and prints, for each, the exit code and what the CLI wrote to stderr.
# One process because each start of these CLIs costs 1-1.5 s of CPU; they are Python programs, so
# the tests drive them from Python (AWS CLI v2 is not: the tests start it once per command instead).
#
#   python3 cli-argv.py gcloud <gcloud's SDK root folder>
#     With an empty configuration (CLOUDSDK_CONFIG) and no account, a command gcloud accepts (its
#     arguments, and the YAML of a `replace`, parsed against the API's messages) stops at "You do not
#     currently have an active account selected" before any network call; a misspelt command or flag
#     stops in the argument parser (exit code 2), a bad manifest field at "Failed to parse value(s)
#     in protobuf".
#   python3 cli-argv.py aws
#     AWS CLI v1. With no configuration and no credentials, a command the CLI accepts (its arguments,
#     and the request validated against the service model) stops at "Unable to locate credentials".
import contextlib
import io
import json
import os
import sys


def gcloud(sdk):
    sys.path.insert(0, os.path.join(sdk, 'lib', 'third_party'))
    sys.path.insert(0, os.path.join(sdk, 'lib'))
    from googlecloudsdk import gcloud_main
    from googlecloudsdk.core import log

    cli = gcloud_main.CreateCLI([])

    def run(argv, out, err):
        # gcloud's logger keeps the streams it was given; point it at this command's buffers.
        log.Reset(stdout=out, stderr=err)
        return cli.Execute(argv)

    return run, log.Reset


def aws():
    from awscli.clidriver import create_clidriver

    return (lambda argv, out, err: create_clidriver().main(argv)), (lambda: None)


run, done = gcloud(sys.argv[2]) if sys.argv[1] == 'gcloud' else aws()
results = []
for argv in json.load(sys.stdin):
    err = io.StringIO()
    out = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = run(argv, out, err)
            code = code if isinstance(code, int) else 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except Exception as error:  # a crash is a result too, reported with its text
            code = 'crash'
            err.write(repr(error))
    results.append({'argv': argv, 'code': code, 'stderr': err.getvalue()})
done()
sys.__stdout__.write(json.dumps(results))
