#!/usr/bin/python3
"""A protocol peer no embody code wrote: openpi's websocket policy protocol in Python.

Written from the facts of openpi's source (packages/openpi-client/src/openpi_client/msgpack_numpy.py,
websocket_client_policy.py; src/openpi/serving/websocket_policy_server.py), with Debian's
python3-msgpack, python3-numpy and python3-websockets 10.4 (its legacy asyncio API):
  - the server sends msgpack(metadata) first, then answers each observation with one message;
  - numpy arrays are maps with binary keys __ndarray__/data/dtype/shape, scalars __npgeneric__;
  - an error is a text frame with the traceback, then close code 1011 (INTERNAL_ERROR);
  - GET /healthz answers 200 "OK\\n".

  openpi_peer.py codec            stdin: msgpack from embody; stdout: JSON of what Python decoded,
                                  then a line with the hex of a message Python packed
  openpi_peer.py serve PORT MODES policy servers, MODES comma-separated on PORT, PORT+1, ...; a mode is
                                  ok | error_after_2 | nan | wrong_shape | slow_600 | die_after_3 | bad_key | needs_key
  openpi_peer.py client URL       one inference against a server; prints JSON of the reply
"""
import asyncio
import http
import json
import os
import sys
import traceback

import msgpack
import numpy as np
import websockets
import websockets.server


def pack_array(obj):
    if isinstance(obj, (np.ndarray, np.generic)) and obj.dtype.kind in ("V", "O", "c"):
        raise ValueError(f"Unsupported dtype: {obj.dtype}")
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": obj.shape}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def unpack_array(obj):
    if b"__ndarray__" in obj:
        return np.ndarray(buffer=obj[b"data"], dtype=np.dtype(obj[b"dtype"]), shape=obj[b"shape"])
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


def packb(obj):
    return msgpack.packb(obj, default=pack_array)


def unpackb(data):
    return msgpack.unpackb(data, object_hook=unpack_array)


def describe(value):
    """JSON-able description of a decoded value, arrays with dtype, shape and values."""
    if isinstance(value, np.ndarray):
        return {"dtype": value.dtype.str, "shape": list(value.shape), "values": value.astype(np.float64).ravel().tolist()}
    if isinstance(value, np.generic):
        return {"scalar": value.dtype.str, "value": value.item()}
    if isinstance(value, dict):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    return value


def codec():
    received = unpackb(sys.stdin.buffer.read())
    print(json.dumps(describe(received)))
    reply = {
        "actions": np.arange(12, dtype=np.float32).reshape(3, 4) / 4,
        "wide": np.array([1.5, -2.25], dtype=np.float64),
        "pixels": np.array([[0, 255]], dtype=np.uint8),
        "steps": np.array([7, -9], dtype=np.int64),
        "scalar": np.float32(0.5),
        "count": np.int64(3),
        "server_timing": {"infer_ms": 12.5},
        "text": "ok",
    }
    print(packb(reply).hex())


HORIZON = 16


def check_observation(obs):
    """What openpi's LIBERO client sends: uint8 HWC images, float32 state, a str prompt."""
    image = obs["observation/image"]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, f"image {type(image)}"
    state = obs["observation/state"]
    assert isinstance(state, np.ndarray) and state.dtype == np.float32 and state.ndim == 1, "state"
    assert isinstance(obs["prompt"], str), "prompt"
    return image, state


def actions_for(state, image, prompt):
    # Deterministic in the inputs, so the client's test can check the round trip: action k of
    # joint d is state[d] + 0.01 * (k + 1); the last joint carries the image mean / 255.
    k = np.arange(1, HORIZON + 1, dtype=np.float32)[:, None]
    actions = state[None, :] + 0.01 * k
    actions[:, -1] = np.float32(image.mean() / 255.0)
    return actions.astype(np.float32)


def make_handler(mode):
    async def handler(websocket, path):
        await websocket.send(packb({"policy": "openpi-peer", "mode": mode, "action_horizon": HORIZON}))
        count = 0
        while True:
            try:
                obs = unpackb(await websocket.recv())
                count += 1
                image, state = check_observation(obs)
                if mode == "bad_key":
                    raise KeyError("observation/wrist_image")
                if mode == "error_after_2" and count > 2:
                    raise RuntimeError("the model ran out of GPU memory")
                if mode == "die_after_3" and count > 3:
                    os._exit(3)
                if mode == "slow_600":
                    await asyncio.sleep(0.6)
                actions = actions_for(state, image, obs["prompt"])
                if mode == "nan":
                    actions[2, 0] = np.nan
                if mode == "wrong_shape":
                    actions = actions[:, :-1]
                reply = {"actions": actions, "server_timing": {"infer_ms": 1.0}, "prompt_seen": obs["prompt"]}
                await websocket.send(packb(reply))
            except websockets.ConnectionClosed:
                break
            except Exception:
                await websocket.send(traceback.format_exc())
                await websocket.close(code=1011, reason="Internal server error. Traceback included in previous frame.")
                break

    return handler


def health_check(path, request_headers):
    if path == "/healthz":
        return http.HTTPStatus.OK, [], b"OK\n"
    return None


def needs_key(path, request_headers):
    # As a hosted openpi endpoint would: `Authorization: Api-Key KEY` (websocket_client_policy.py).
    if path != "/healthz" and request_headers.get("Authorization") != "Api-Key s3cret":
        return http.HTTPStatus.UNAUTHORIZED, [], b"bad or missing api key\n"
    return health_check(path, request_headers)


async def serve(base_port, modes):
    servers = []
    for i, mode in enumerate(modes):
        check = needs_key if mode == "needs_key" else health_check
        servers.append(await websockets.server.serve(make_handler(mode), "127.0.0.1", base_port + i, compression=None, max_size=None, process_request=check))
    print("listening", flush=True)
    await asyncio.Future()


async def client(url):
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        metadata = unpackb(await ws.recv())
        obs = json.loads(sys.stdin.read())
        message = {}
        for k, v in obs.items():
            if isinstance(v, dict) and "dtype" in v:
                message[k] = np.array(v["values"], dtype=np.dtype(v["dtype"])).reshape(v["shape"])
            else:
                message[k] = v
        await ws.send(packb(message))
        reply = await ws.recv()
        if isinstance(reply, str):
            code = None
            try:
                await ws.recv()
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
            print(json.dumps({"metadata": describe(metadata), "error": reply, "close_code": code}))
            return
        print(json.dumps({"metadata": describe(metadata), "reply": describe(unpackb(reply))}))


if __name__ == "__main__":
    if sys.argv[1] == "codec":
        codec()
    elif sys.argv[1] == "serve":
        asyncio.run(serve(int(sys.argv[2]), sys.argv[3].split(",")))
    elif sys.argv[1] == "client":
        asyncio.run(client(sys.argv[2]))
