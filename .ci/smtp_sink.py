"""An SMTP sink for tests (run by .ci/smtp-sink): aiosmtpd on 127.0.0.1 on
a free port. Prints {"listening": PORT}, then one JSON line per message
received; stops when its stdin closes (the test that started it ended)."""

import asyncio
import email
import json
import sys
from email import policy

from aiosmtpd.smtp import SMTP


class Sink:
    """Prints every message as one JSON line and accepts it."""

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": message["subject"],
            "message_id": message["message-id"],
            "delivery": message["x-nexus-delivery"],
            "body": body.get_content() if body is not None else "",
        }), flush=True)
        return "250 OK"


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Sink(), hostname="localhost"), "127.0.0.1", 0)
    print(json.dumps({"listening": server.sockets[0].getsockname()[1]}), flush=True)
    # Until the parent goes away: its end of our stdin closes.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
