"""Leaving a web chat conversation (a Socket.IO client) without waiting out the poll in flight."""
import asyncio

import socketio


async def disconnect(client: socketio.AsyncClient) -> None:
    """`client.disconnect()`, returning once the server has the close instead of 30 s later.

    Over long-polling (the tests' transport: engine.io-client's websocket one needs a newer aiohttp
    than Rasa pins) `disconnect()` posts DISCONNECT and CLOSE, then waits for the GET poll in flight
    to end. The server (python-engineio, on a client's CLOSE) closes the socket without answering
    that poll, so the GET ends only at the client's own timeout, max(pingInterval 25 s, pingTimeout
    20 s) + 5 = 30 s. Here the engine.io write loop is awaited instead: it ends once the POST carrying
    CLOSE is answered, which is after the server has run its disconnect handlers (so the server knows
    the patient left, as before). Closing the HTTP session then ends the abandoned GET at once, and
    `disconnect()` finishes as it would have."""
    eio = client.eio
    writer = eio.write_loop_task if eio.state == "connected" and eio.current_transport == "polling" else None
    closing = asyncio.ensure_future(client.disconnect())
    if writer is not None:
        await writer
        if eio.http is not None and not eio.http.closed:
            await eio.http.close()
    await closing
