# Runs gcloud command lines through gcloud's own CLI in one process, offline: reads a JSON list of
# argument lists on stdin and prints, for each, the exit code and what gcloud wrote to stderr.
# With an empty configuration (CLOUDSDK_CONFIG) and no account, a command that gcloud accepts
# (its arguments, and the YAML of a `replace`, parsed against the API's messages) stops at
# "You do not currently have an active account selected" before any network call; a misspelt
# command or flag stops in the argument parser (exit code 2), a bad manifest field at
# "Failed to parse value(s) in protobuf". One process because each gcloud start costs ~1.5 s CPU.
# Usage: python3 gcloud-argv.py <gcloud's SDK root folder>
import contextlib
import io
import json
import os
import sys

sdk = sys.argv[1]
sys.path.insert(0, os.path.join(sdk, 'lib', 'third_party'))
sys.path.insert(0, os.path.join(sdk, 'lib'))

from googlecloudsdk import gcloud_main  # noqa: E402
from googlecloudsdk.core import log  # noqa: E402

requests = json.load(sys.stdin)
cli = gcloud_main.CreateCLI([])
results = []
for argv in requests:
    err = io.StringIO()
    out = io.StringIO()
    code = 0
    # gcloud's logger keeps the streams it was given; point it at this command's buffers.
    log.Reset(stdout=out, stderr=err)
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            cli.Execute(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except Exception as error:  # a crash is a result too, reported with its text
            code = 'crash'
            err.write(repr(error))
    results.append({'argv': argv, 'code': code, 'stderr': err.getvalue()})
log.Reset()
sys.__stdout__.write(json.dumps(results))
