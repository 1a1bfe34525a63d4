"""A Streamlit client that speaks the browser's websocket protocol, without a browser.

It does what the frontend does for the widgets the load benchmark needs: opens a session on
`/_stcore/stream`, sends `BackMsg.rerun_script` with widget states, collects the `ForwardMsg`
deltas of each run, asks for upload URLs and PUTs files like `st.file_uploader`, and sets a
bidirectional component's state like the drawing canvas. Twenty of these cost the machine
almost nothing, so the server is what a load test measures.
"""

from __future__ import annotations

import asyncio
import functools
import json
import urllib.parse
import uuid
from dataclasses import dataclass, field

import requests
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import FileUploaderState, FileURLsRequest, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from websockets.asyncio.client import connect

XSRF_COOKIE = "_streamlit_xsrf"
FINISHED = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY")


@dataclass
class Run:
    """What one script run sent: its elements (kind, proto) in order, and whether it ended."""

    elements: list[tuple[str, object]] = field(default_factory=list)
    finished: bool = False

    def of_kind(self, kind: str) -> list:
        return [e for k, e in self.elements if k == kind]

    def texts(self) -> list[str]:
        out = []
        for kind, e in self.elements:
            if kind in ("markdown", "heading", "text"):
                out.append(getattr(e, "body", ""))
            elif kind == "alert":
                out.append(e.body)
        return out

    def errors(self) -> list[str]:
        """Exceptions and st.error boxes shown by this run."""
        out = [f"exception: {e.type}: {e.message}" for e in self.of_kind("exception")]
        out += [f"error box: {e.body}" for e in self.of_kind("alert") if e.format == 1]
        return out


class StreamlitSession:
    def __init__(self, base_url: str, page: str, timeout: float = 120.0, query_string: str = ""):
        self.base_url = base_url.rstrip("/")
        self.page = page
        self.query_string = query_string  # the link's ?...: what a reopened tab carries
        self.timeout = timeout
        self.http = requests.Session()
        self.session_id = ""
        self.widgets: dict[str, WidgetState] = {}  # what the "browser" currently holds
        self.ws = None

    # ------------------------------------------------------------------ connection
    async def open(self) -> Run:
        # Like the frontend: the health check sets the XSRF cookie that uploads must echo.
        await asyncio.to_thread(
            self.http.get, self.base_url + "/_stcore/health", timeout=self.timeout
        )
        xsrf = self.http.cookies.get(XSRF_COOKIE, "")
        # behind a proxy: its affinity cookie (SERVERID) says which server holds this session
        self.server = self.http.cookies.get("SERVERID", "")
        host = urllib.parse.urlsplit(self.base_url).netloc
        self.ws = await connect(
            f"ws://{host}/_stcore/stream",
            subprotocols=["streamlit", xsrf] if xsrf else ["streamlit"],
            additional_headers={
                "Origin": self.base_url,
                # every cookie of the first answer, as a browser sends them: the XSRF one, and
                # the proxy's affinity cookie, so the socket reaches the server that answered
                "Cookie": "; ".join(f"{c.name}={c.value}" for c in self.http.cookies),
            },
            max_size=None,
            open_timeout=self.timeout,
        )
        return await self.rerun()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        self.http.close()

    async def _send(self, msg: BackMsg) -> None:
        await self.ws.send(msg.SerializeToString())

    async def _receive(self) -> ForwardMsg:
        data = await asyncio.wait_for(self.ws.recv(), self.timeout)
        msg = ForwardMsg()
        msg.ParseFromString(data)
        if msg.HasField("new_session"):
            self.session_id = msg.new_session.initialize.session_id or self.session_id
        return msg

    # ------------------------------------------------------------------ script runs
    async def rerun(self) -> Run:
        """Send the current widget states and wait for the script to finish successfully
        (a run that ends early for a rerun, such as the app's first-visit redirect, is followed
        by the next)."""
        states = WidgetStates(widgets=list(self.widgets.values()))
        client = ClientState(
            query_string=self.query_string, page_name=self.page, widget_states=states
        )
        await self._send(BackMsg(rerun_script=client))
        # a button press lasts one run, as in the browser
        self.widgets = {k: w for k, w in self.widgets.items() if not w.HasField("trigger_value")}
        run = Run()
        while True:
            msg = await self._receive()
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                el = msg.delta.new_element
                el_kind = el.WhichOneof("type")
                run.elements.append((el_kind, getattr(el, el_kind)))
            elif kind == "script_finished":
                if msg.script_finished == FINISHED:
                    run.finished = True
                    return run
                run = Run()  # stopped early for a rerun: the next run is the real one
            elif kind == "ref_hash":
                raise RuntimeError("server sent a cached-message reference the client never had")

    # ------------------------------------------------------------------ widgets
    def set_string_array(self, widget_id: str, values: list[str]) -> None:
        state = WidgetState(id=widget_id)
        state.string_array_value.data.extend(values)
        self.widgets[widget_id] = state

    def set_string(self, widget_id: str, value: str) -> None:
        """A selectbox's choice, as the browser sends it: the option's text."""
        self.widgets[widget_id] = WidgetState(id=widget_id, string_value=value)

    def press(self, widget_id: str) -> None:
        """Click a button: true for the next run only."""
        self.widgets[widget_id] = WidgetState(id=widget_id, trigger_value=True)

    def set_json(self, widget_id: str, value: object) -> None:
        self.widgets[widget_id] = WidgetState(id=widget_id, json_value=json.dumps(value))

    async def upload(self, widget_id: str, name: str, data: bytes, mime: str) -> None:
        """What st.file_uploader's frontend does: ask for a URL, PUT the file, set the state."""
        request_id = uuid.uuid4().hex
        await self._send(
            BackMsg(
                file_urls_request=FileURLsRequest(
                    request_id=request_id, file_names=[name], session_id=self.session_id
                )
            )
        )
        while True:
            msg = await self._receive()
            if (
                msg.WhichOneof("type") == "file_urls_response"
                and msg.file_urls_response.response_id == request_id
            ):
                break
        resp = msg.file_urls_response
        if resp.error_msg:
            raise RuntimeError(f"upload URL refused: {resp.error_msg}")
        urls = resp.file_urls[0]
        put_url = urllib.parse.urljoin(self.base_url + "/", urls.upload_url.lstrip("/"))
        xsrf = self.http.cookies.get(XSRF_COOKIE, "")
        put = functools.partial(
            self.http.put,
            put_url,
            files={"file": (name, data, mime)},
            headers={"X-Xsrftoken": xsrf},
            timeout=self.timeout,
        )
        try:
            reply = await asyncio.to_thread(put)
        except requests.ConnectionError:
            # The server closed the kept-alive connection as this request went out; browsers
            # retry an idempotent request (PUT) once on a fresh connection in that case.
            self.http.close()
            reply = await asyncio.to_thread(put)
        if reply.status_code >= 300:
            raise RuntimeError(f"upload failed: HTTP {reply.status_code} {reply.text[:200]}")
        info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)
        self.widgets[widget_id] = WidgetState(
            id=widget_id, file_uploader_state_value=FileUploaderState(uploaded_file_info=[info])
        )
