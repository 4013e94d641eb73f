#!/usr/bin/env python3
"""The reference viewer of `cargo bench --bench setup`: aiortc (an independent WebRTC stack, from PyPI:
`pip install aiortc`) receiving one video track over WHEP from URL, as rtcscope does.

Prints one JSON line: milliseconds from the start of the negotiation (just before the offer is
created, after the imports) to the peer connection's `connected` and to the first RTP packet, or an
"error". The WHEP exchange is a plain POST of the complete offer (aiortc gathers before it answers and
does not trickle); the server's answer carries its candidates.

Usage: aiortc_viewer.py URL [TIMEOUT_S]
"""

import asyncio
import json
import sys
import time
import urllib.request

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtpreceiver import RTCRtpReceiver


async def main(url: str, timeout: float) -> dict:
    t0 = time.monotonic()
    ms = lambda: (time.monotonic() - t0) * 1000.0
    marks = {}
    first_rtp = asyncio.Event()
    connected = asyncio.Event()

    original = RTCRtpReceiver._handle_rtp_packet

    async def on_rtp(self, packet, arrival_time_ms):
        if "first_rtp_ms" not in marks:
            marks["first_rtp_ms"] = ms()
            first_rtp.set()
        return await original(self, packet, arrival_time_ms)

    RTCRtpReceiver._handle_rtp_packet = on_rtp

    pc = RTCPeerConnection()

    @pc.on("connectionstatechange")
    async def on_state():
        if pc.connectionState == "connected" and "connected_ms" not in marks:
            marks["connected_ms"] = ms()
            connected.set()

    pc.addTransceiver("video", direction="recvonly")
    offer = await pc.createOffer()
    await pc.setLocalDescription(offer)

    def post(sdp: str) -> str:
        req = urllib.request.Request(
            url,
            data=sdp.encode(),
            method="POST",
            headers={"Content-Type": "application/sdp"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read().decode()

    answer = await asyncio.get_running_loop().run_in_executor(
        None, post, pc.localDescription.sdp
    )
    marks["answer_ms"] = ms()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    try:
        await asyncio.wait_for(
            asyncio.gather(connected.wait(), first_rtp.wait()), timeout
        )
    except asyncio.TimeoutError:
        marks["error"] = "timeout"
    await pc.close()
    return marks


if __name__ == "__main__":
    url = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    try:
        out = asyncio.run(main(url, timeout))
    except Exception as e:  # reported, not raised: the bench counts failures
        out = {"error": repr(e)}
    print(json.dumps(out), flush=True)
