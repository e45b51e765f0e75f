"""``sk-ulmfit clean``: the dataset cleaner as a page served on this machine.

    sk-ulmfit clean model.skulm train.csv --output cleaned.csv [--port 8000] [--no-browser]

The model grades every text of the table (out of fold by default), a
:class:`~sk_ulmfit.cleaning.DatasetCleaner` holds the decisions, and a small JSON API on
127.0.0.1 serves the page in ``_clean_page`` (no file from the internet):

    GET  /api/state                     classes, rankings, scores, counts
    GET  /api/page?ranking=&given=&predicted=&page=&page_size=
    POST /api/decision {"position", "action", "label"}
    POST /api/save                      writes --output and its change log

Every decision is on disk at once, in ``<output>.decisions.json``, which the next
``clean`` with the same ``--output`` resumes. Save writes the input table with deleted
rows left out and new labels in its label column (every other column as it was), in the
input's format, and the change log ``<output>.changes.csv``. The input is never written.
"""

from __future__ import annotations

import csv
import errno
import json
import threading
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from .._common.atomic import atomic_target
from ..cleaning import RANKING_TITLES, SCORE_NAMES, DatasetCleaner
from .parser import SCORES
from .tables import (
    COMPRESSIONS,
    READERS,
    CommandError,
    graded,
    labels_of,
    load_model,
    read_table,
    table_suffix,
    texts_of,
    writable,
    write_table,
)

HOST = "127.0.0.1"
# What the page may fetch: URL path -> (file in _clean_page, content type).
PAGE_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
              "/cleaner.css": ("cleaner.css", "text/css; charset=utf-8"),
              "/cleaner.js": ("cleaner.js", "text/javascript; charset=utf-8")}
MAX_BODY = 64 * 1024


# ----------------------------------------------------------------------- the command
def run_clean(args) -> None:
    """``sk-ulmfit clean``: grade the texts, serve the page until Ctrl-C."""
    output = check_output(Path(args.data), Path(args.output), args.force)
    server = make_server(None, args.port)  # the port first: a busy one fails before the long part
    try:
        server.session = prepare_session(args, output)
        url = f"http://{HOST}:{server.server_port}/"
        print(f"cleaner at {url}  (Ctrl-C stops it; every decision is saved in "
              f"{server.session.cleaner.decisions_path} as you make it)", flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped; the same command goes on where you left off")
    finally:
        server.server_close()


def check_output(data: Path, output: Path, force: bool) -> Path:
    """``output`` if it may be written: not the input, in the input's format, and new, or ``force``,
    or written by an earlier ``clean`` (its decisions file beside it, which this run resumes)."""
    if output.resolve() == data.resolve():
        raise CommandError(f"--output {output} is the input table; name another file (the input is never "
                           "modified)")
    kind, output_kind = table_kind(data), table_kind(output)
    if output_kind != kind:
        raise CommandError(f"--output {output} must be a {kind or 'table'} file like {data.name} (the cleaned "
                           f"table keeps the input's format); e.g. --output cleaned{format_suffix(data)}")
    if compression(output) and kind != "csv":
        raise CommandError(f"--output {output}: only CSV is written compressed; drop {compression(output)}")
    if output.exists() and decisions_file(output).exists():
        return output  # written by an earlier clean whose decisions this one resumes
    return writable(output, force)


def table_kind(path: Path) -> str | None:
    """``"csv"``, ``"tsv"``, ``"jsonl"`` or ``"parquet"`` from the suffix (as ``read_table`` reads it)."""
    return READERS.get(table_suffix(path))


def compression(path: Path) -> str:
    return path.suffix.lower() if path.suffix.lower() in COMPRESSIONS else ""


def format_suffix(path: Path) -> str:
    return "".join(path.suffixes[-2:] if compression(path) else path.suffixes[-1:])


def decisions_file(output: Path) -> Path:
    """Where the decisions behind ``output`` are kept: beside it."""
    return Path(str(output) + ".decisions.json")


def changes_file(output: Path) -> Path:
    """Where Save writes the change log: beside ``output``."""
    return Path(str(output) + ".changes.csv")


def prepare_session(args, output: Path) -> CleanSession:
    """Read the table and model, grade the texts, resume the decisions."""
    frame = read_table(args.data, args.encoding)
    X = texts_of(frame, args.text_column, args.data)
    given = labels_of(frame, args.label_column, args.data)
    model = load_model(args.model)
    if getattr(model, "multilabel_", False):
        raise CommandError("clean reviews texts with one label each; this is a multi-label model")
    y = labels_for(given, model, args)
    proba, classes, _ = graded(model, X, y, args.scores)
    print(f"near-duplicates: embedding {len(X)} texts", flush=True)
    embeddings = model.transform(X)
    try:
        cleaner = DatasetCleaner(X, y, proba, classes=classes, embeddings=embeddings,
                                 decisions_path=decisions_file(output))
    except ValueError as error:
        raise CommandError(str(error)) from error
    if cleaner.decisions:
        print(f"resumed {len(cleaner.decisions)} decisions from {cleaner.decisions_path}")
    return CleanSession(cleaner, frame, label_column=args.label_column, output=output,
                        data_name=Path(args.data).name, scores=args.scores)


def labels_for(given: pd.Series, model, args) -> np.ndarray:
    """The label column as values of the model's classes' type."""
    try:
        y = given.to_numpy().astype(model.classes_.dtype)
    except (TypeError, ValueError) as error:
        raise CommandError(f"{args.data}: column {args.label_column!r} does not hold labels like the model's "
                           f"classes {list(model.classes_)[:10]}: {error}") from error
    unknown = sorted({str(label) for label in y.tolist()} - {str(name) for name in model.classes_.tolist()})
    if unknown:
        raise CommandError(f"{args.data}: labels {unknown[:5]} of column {args.label_column!r} are not among "
                           f"the model's classes {list(model.classes_)[:10]}")
    return y


# ----------------------------------------------------------------------- the session
class CleanSession:
    """What the page works on: a cleaner, the input table, where Save writes.

    Parameters
    ----------
    cleaner : DatasetCleaner
        Its decisions are the page's; with a ``decisions_path`` each is on disk at once.
    frame : DataFrame
        The input table, one row per text of the cleaner, in order.
    label_column : str
        The column of ``frame`` that relabels change.
    output : path
        The cleaned table Save writes (its format from the suffix); the change log goes
        beside it.
    data_name : str
        The input's name, shown on the page.
    scores : {"out-of-fold", "training"}
        How the probabilities were made; the page warns about ``"training"``.
    """

    def __init__(self, cleaner: DatasetCleaner, frame: pd.DataFrame, *, label_column: str, output,
                 data_name: str = "", scores: str = "out-of-fold") -> None:
        if len(frame) != len(cleaner.texts):
            raise ValueError(f"the table has {len(frame)} rows for {len(cleaner.texts)} texts")
        if scores not in SCORES:
            raise ValueError(f"scores must be one of {SCORES}; got {scores!r}")
        self.cleaner, self.frame, self.label_column = cleaner, frame, label_column
        self.output, self.data_name, self.scores = Path(output), data_name, scores
        self.lock = threading.Lock()

    def state(self) -> dict:
        """Everything the page needs once: classes, rankings, how the texts were graded."""
        return {
            "data": self.data_name, "output": str(self.output), "changes": str(changes_file(self.output)),
            "decisions": str(self.cleaner.decisions_path or ""), "scores": self.scores,
            "classes": [str(name) for name in self.cleaner.classes.tolist()],
            "rankings": [{"name": name, "title": RANKING_TITLES[name], "score": SCORE_NAMES[name]}
                         for name in self.cleaner.rankings],
            "summary": self.cleaner.summary(),
        }

    def page(self, query: dict[str, str]) -> dict:
        """One page of a ranking; ``query`` has ``ranking``, ``given``, ``predicted``,
        ``page`` and ``page_size`` (as strings, as in a URL)."""
        with self.lock:
            page = self.cleaner.page(
                query.get("ranking") or "top_losses", given_label=query.get("given") or None,
                predicted_label=query.get("predicted") or None, page=integer(query, "page", 0),
                page_size=integer(query, "page_size", 20))
            rows = [row_json(row) for row in page.rows.to_dict("records")]
        return {"rows": rows, "page": page.number, "n_pages": page.n_pages, "n_rows": page.n_rows,
                "page_size": page.page_size}

    def decide(self, body: dict) -> dict:
        """Record a decision (``{"position", "action", "label"}``); answers the text's decision."""
        if not isinstance(body, dict) or "position" not in body or "action" not in body:
            raise ValueError('a decision is {"position": int, "action": "keep"|"delete"|"relabel", "label": ...}')
        with self.lock:
            self.cleaner.decide(body["position"], body["action"], body.get("label"))
            action, label = self.cleaner.decision(body["position"])
            return {"position": body["position"], "decision": action,
                    "new_label": None if label is None else str(label), "summary": self.cleaner.summary()}

    def cleaned_frame(self) -> pd.DataFrame:
        """The input table with the decisions applied: deleted rows out, new labels in."""
        changes = self.cleaner.changes()
        frame = self.frame.copy()
        relabelled = changes[~changes["deleted"]]
        where = frame.columns.get_loc(self.label_column)
        textual = all(isinstance(value, str) for value in frame[self.label_column].head(100))
        if len(relabelled):
            frame[self.label_column] = frame[self.label_column].astype(object)
        for position, label in zip(relabelled["position"], relabelled["new_label"]):
            frame.iat[int(position), where] = str(label) if textual else label
        return frame.drop(index=frame.index[changes.loc[changes["deleted"], "position"].to_numpy()])

    def save(self) -> dict:
        """Write the cleaned table and the change log (each atomically)."""
        with self.lock:
            frame, changes = self.cleaned_frame(), self.cleaner.changes()
            write_atomically(frame, self.output)
            write_atomically(changes, changes_file(self.output))
        return {"output": str(self.output), "changes": str(changes_file(self.output)), "n_rows": len(frame),
                "n_deleted": int(changes["deleted"].sum()), "n_relabelled": int((~changes["deleted"]).sum())}


def integer(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text in (None, ""):
        return default
    try:
        return int(text)
    except ValueError as error:
        raise ValueError(f"{name} must be an integer; got {text!r}") from error


def row_json(row: dict) -> dict:
    """A row of a page as JSON values (labels as text)."""
    def optional_int(value):
        return None if pd.isna(value) else int(value)

    return {"position": int(row["position"]), "text": row["text"], "label": str(row["label"]),
            "predicted": str(row["predicted"]), "p_label": float(row["p_label"]),
            "p_predicted": float(row["p_predicted"]), "runner_up": str(row["runner_up"]),
            "p_runner_up": float(row["p_runner_up"]), "score": float(row["score"]),
            "pair": optional_int(row["pair"]), "other_position": optional_int(row["other_position"]),
            "decision": row["decision"], "new_label": None if row["new_label"] is None else str(row["new_label"])}


def write_atomically(frame: pd.DataFrame, path: Path) -> None:
    """``write_like_read_table`` through the package's one atomic write."""
    with atomic_target(path) as tmp:
        write_like_read_table(frame, tmp)


def write_like_read_table(frame: pd.DataFrame, path: Path) -> None:
    """``write_table``, except TSV: written unquoted, as ``read_table`` reads it (``quoting=3``)."""
    if table_kind(path) != "tsv":
        write_table(frame, path)
        return
    cells = frame.astype(str)
    if cells.map(lambda cell: "\t" in cell or "\n" in cell or "\r" in cell).to_numpy().any():
        raise CommandError(f"{path.name}: a cell holds a tab or a line break, which TSV cannot hold "
                           "unquoted; clean a CSV copy of the table instead")
    frame.to_csv(path, sep="\t", index=False, quoting=csv.QUOTE_NONE)


# ----------------------------------------------------------------------- HTTP
class CleanServer(ThreadingHTTPServer):
    """The HTTP server; ``session`` is the :class:`CleanSession` it serves."""

    daemon_threads = True
    session: CleanSession | None = None


def make_server(session: CleanSession | None, port: int = 0, host: str = HOST) -> CleanServer:
    """A server for ``session`` listening on ``host:port`` (0: a free port); call ``serve_forever``."""
    try:
        server = CleanServer((host, port), CleanHandler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CommandError(f"port {port} on {host} is in use; pass another --port, or none for a free "
                               "one") from error
        raise CommandError(f"cannot serve on {host}:{port}: {error.strerror or error}") from error
    server.session = session
    return server


class CleanHandler(BaseHTTPRequestHandler):
    """The page's files and its JSON API."""

    server_version = "sk-ulmfit-clean"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if not self._trusted_host():
            return
        url = urlsplit(self.path)
        if url.path in PAGE_FILES:
            name, content_type = PAGE_FILES[url.path]
            self._send(HTTPStatus.OK, page_file(name), content_type)
        elif url.path == "/api/state":
            self._answer(lambda: self.server.session.state())
        elif url.path == "/api/page":
            query = {name: values[-1] for name, values in parse_qs(url.query).items()}
            self._answer(lambda: self.server.session.page(query))
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no page at {url.path}")

    def do_POST(self) -> None:  # noqa: N802
        if not self._trusted_host():
            return
        path = urlsplit(self.path).path
        if path not in ("/api/decision", "/api/save"):
            self._error(HTTPStatus.NOT_FOUND, f"no page at {path}")
            return
        if self.headers.get_content_type() != "application/json":
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON (Content-Type: application/json)")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large")
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            self._error(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {error}")
            return
        session = self.server.session
        self._answer(lambda: session.decide(body) if path == "/api/decision" else session.save())

    def _trusted_host(self) -> bool:
        """Answer only requests addressed to this machine (a page elsewhere cannot rebind a name to it)."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host in (HOST, "localhost", "[::1]"):
            return True
        self._error(HTTPStatus.FORBIDDEN, f"this server answers requests for {HOST} only")
        return False

    def _answer(self, work) -> None:
        try:
            self._json(HTTPStatus.OK, work())
        except ValueError as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))
        except (CommandError, OSError) as error:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, str(error))

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json(status, {"error": message})

    def _json(self, status: HTTPStatus, content) -> None:
        self._send(status, json.dumps(content, ensure_ascii=False).encode("utf-8"),
                   "application/json; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        """Quiet: the terminal shows the address and errors, not every request."""


def page_file(name: str) -> bytes:
    """A file of the page, shipped in the package."""
    return resources.files("sk_ulmfit").joinpath("_cli", "clean_page", name).read_bytes()
