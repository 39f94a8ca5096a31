"""Contract tests of any server that claims to be the PPIO / Novita v3 txt2img API, free by default.

    ppio contract --base-url https://api.ppinfra.com          # key from PPIO_API_KEY
    ppio contract --base-url ... --task-id <a task you have>  # its result checked too, free
    ppio contract --base-url ... --allow-billing              # plus ONE cheapest task

(also `python -m ppio_txt2img.contract ...` and `make contract BASE_URL=...`). Needs the `contract` extra:
`pip install 'ppio-txt2img[contract]'` (schemathesis and requests).

What it checks, against the spec the SDK was generated from (`ppio_api/openapi.json`):

1. schemathesis on every GET operation (task result, model list): generated requests, every default
   check on each answer (status code documented, content type, headers, body against the response
   schema, no 5xx, ...), under a rate limit (default 2 requests/s) and a fixed number of examples.
2. The spec's OpenAPI `links`, followed from real answers: the model list's `NextPage` (its
   `next_cursor`), and `GetTaskResult` from a created task's `task_id` (with `--allow-billing`), or from
   `--task-id`.
   A succeeded task's images are then read as the SDK reads them (GETs, free): the result is about
   that task, every image downloads, is whole and decodes.
3. Only with `--allow-billing`: one `POST /v3/async/txt2img` for the cheapest task there is (128x128,
   1 step, 1 image), sent once and never again (its answer is checked only by checks that send
   nothing; a valid request refused is a failure), then polled to its end through the link: it must
   end TASK_STATUS_SUCCEED within `--wait`, with one image of the size asked for.

It prints what was checked, what failed (with the failing check and a request to reproduce it), and how
much could have been billed: 0 tasks without `--allow-billing`. Exit status 0 when nothing failed.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ppio contract", description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the server to test, e.g. https://api.ppinfra.com")
    parser.add_argument("--api-key", default=os.environ.get("PPIO_API_KEY"), help="default: $PPIO_API_KEY")
    parser.add_argument("--allow-billing", action="store_true", help="send one cheapest task (billed)")
    parser.add_argument("--task-id", help="also check the result of this existing task (free)")
    parser.add_argument("--rate", default="2/s", help="request rate limit (default 2/s)")
    parser.add_argument("--examples", type=int, default=10, help="generated requests per GET (default 10)")
    parser.add_argument("--negative", action="store_true", help="also send invalid GETs (expects 4xx)")
    parser.add_argument(
        "--wait", type=float, default=120, help="seconds to poll a created task (default 120)"
    )
    parser.add_argument("--seed", type=int, default=20240517)
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("no API key: set PPIO_API_KEY or pass --api-key")

    # Imported once the command line is read: schemathesis takes seconds to import, `--help` none.
    try:
        from ._contract_checks import Contract, Outcome
    except ImportError as exc:
        parser.exit(2, f"ppio contract needs its extra: pip install 'ppio-txt2img[contract]' ({exc})\n")

    contract = Contract(args.base_url, args.api_key, rate=args.rate, examples=args.examples, seed=args.seed)
    contract.fuzz_gets()
    if args.negative:
        contract.fuzz_gets(negative=True)
    contract.check_model_pages()
    if args.task_id:
        outcome = Outcome("link GetTaskResult (--task-id)")
        contract.outcomes.append(outcome)
        if contract.check_task(args.task_id, outcome, wait=0) == "TASK_STATUS_SUCCEED":
            contract.check_images(args.task_id, outcome, wait=args.wait)
    if args.allow_billing:
        contract.create_one_task(args.wait)
    else:
        contract.outcomes.append(
            Outcome("POST /v3/async/txt2img", note="not sent (billed): --allow-billing", skipped=True)
        )
    ok = contract.report(print, allow_billing=args.allow_billing, task_id=args.task_id)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
