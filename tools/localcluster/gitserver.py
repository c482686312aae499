"""A smart-HTTP git server on loopback: `git http-backend` behind a small Python HTTP server.

Flux's source-controller clones over HTTP(S) or SSH; the integration tests need a repository it
can fetch from on this machine, with nothing but git installed. Each request is handed to
`git http-backend` as CGI (the protocol git itself documents in git-http-backend(1)), so clients
speak git's real smart-HTTP protocol: `git clone`/`git push` from the tests, go-git from the
source-controller. Every repository under the root is exported; pushing is allowed where the
repository's config says `http.receivepack = true`. No authentication: it listens on 127.0.0.1
only.

Run as a daemon by localcluster.flux (so it is stopped by PID with the cluster):

    python3 gitserver.py ROOT PORT
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"


class GitHandler(BaseHTTPRequestHandler):
    """Hands every GET and POST to `git http-backend` and relays its CGI response."""

    server: GitServer

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _request_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            # git sends large pushes chunked; CGI wants the whole body on stdin.
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _backend(self) -> None:
        url = urlsplit(self.path)
        body = self._request_body() if self.command == "POST" else b""
        environment = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": self.request_version,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
        }
        for name in ("Content-Encoding", "Git-Protocol", "Accept"):
            if name in self.headers:
                environment["HTTP_" + name.upper().replace("-", "_")] = self.headers[name]
        result = subprocess.run(
            [self.server.git, "http-backend"],
            input=body,
            capture_output=True,
            env=environment,
            check=False,
        )
        if result.returncode != 0 and not result.stdout:
            message = result.stderr.decode(errors="replace")
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, message)
            return
        head, payload = split_cgi_response(result.stdout)
        status, headers = HTTPStatus.OK, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = HTTPStatus(int(value.split()[0]))
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def split_cgi_response(output: bytes) -> tuple[bytes, bytes]:
    """CGI output is headers, an empty line (CRLF or LF endings), then the body."""
    ends = [(output.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n") if sep in output]
    if not ends:
        return output, b""
    index, separator = min(ends)
    return output[:index], output[index + len(separator) :]


class GitServer(ThreadingHTTPServer):
    """The HTTP server, knowing the repository root and the git binary."""

    daemon_threads = True

    def __init__(self, root: Path, port: int) -> None:
        git = shutil.which("git")
        if git is None:
            raise SystemExit("gitserver: git is not on PATH")
        self.root = root.resolve()
        self.git = git
        super().__init__((LOOPBACK, port), GitHandler)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: gitserver.py ROOT PORT")
    server = GitServer(Path(argv[0]), int(argv[1]))
    print(f"gitserver: serving {server.root} at http://{LOOPBACK}:{argv[1]}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
