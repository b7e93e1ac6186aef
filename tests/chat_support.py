"""A local chat server: records every incoming-webhook POST and answers as told."""

import http.server
import json
import threading
import time
from contextlib import contextmanager


class ChatReceiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.posts: list[dict] = []
        self.answers: list[int] = []  # statuses to give first, then 200
        self.slow_for = 0.0  # seconds to think before answering (a slow chat server)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.posts.append(
                        {
                            "status": status,
                            "content_type": self.headers.get("Content-Type"),
                            "json": json.loads(body),
                        }
                    )
                time.sleep(receiver.slow_for)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"try later")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/XXXX"

    def delivered(self) -> list[dict]:
        with self.lock:
            return [p["json"] for p in self.posts if p["status"] == 200]


@contextmanager
def chat_receiver():
    receiver = ChatReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
