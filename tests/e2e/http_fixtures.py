#!/usr/bin/env python3
"""A small stand-in for Open-Meteo and Home Assistant, for the agent's end-to-end tests (standard
library only). Listens on 127.0.0.1 only.

  http_fixtures.py [--port N] [--token TOKEN] [--log FILE] [--states FILE] [--delay SECONDS]

  --port N        the port; 0 (the default) picks a free one. Once bound, one line goes to standard
                  output: "listening port=N" (the same line as openai_test_server's).
  --token TOKEN   the Home Assistant bearer token (default "test-token"); any other gets 401.
  --log FILE      appends one JSON line per request: {"method", "path", "query" (name -> list of
                  values), "headers" (name -> value), "body" (text)}.
  --states FILE   a JSON object of Home Assistant states (entity id -> {"state", "attributes"}) that
                  replaces the built-in ones (a light, a switch, a sensor, a lock).
  --delay SECONDS waits that long before every answer (to test timeouts).

What it answers:

  GET  /v1/forecast?latitude=..&longitude=..[&temperature_unit=fahrenheit][&wind_speed_unit=mph]
       a fixed forecast in Open-Meteo's format ("current"/"current_units", "daily"/"daily_units"):
       12.4 °C, feels 10.6, partly cloudy (2), wind 9.7 km/h; today clear sky (0), 7.6 to 14.4 °C,
       30 % chance of rain. Only the variables asked for in "current" and "daily" are returned.
       Units converted as asked. Without latitude or longitude: 400 {"error": true, "reason": ...}.
  GET  /api/                                 {"message": "API running."}
  GET  /api/states                           every state
  GET  /api/states/<entity_id>               the state, or 404 {"message": "Entity not found."}
  POST /api/services/<domain>/<service>      body {"entity_id": id or [ids], ...}; turn_on, turn_off,
       toggle, lock, unlock change the state; answers with the list of the states that changed.
       Unknown service: 400 {"message": "Service <domain>.<service> not found."}.
  Every /api/ request needs "Authorization: Bearer <token>", else 401 "401: Unauthorized".
"""
import argparse
import copy
import datetime
import json
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Open-Meteo's variables as this fixture knows them: metric value and unit.
CURRENT = {
    "temperature_2m": (12.4, "°C"),
    "apparent_temperature": (10.6, "°C"),
    "weather_code": (2, "wmo code"),
    "wind_speed_10m": (9.7, "km/h"),
    "relative_humidity_2m": (71, "%"),
}
DAILY = {
    "weather_code": (0, "wmo code"),
    "temperature_2m_max": (14.4, "°C"),
    "temperature_2m_min": (7.6, "°C"),
    "precipitation_probability_max": (30, "%"),
}

DEFAULT_STATES = {
    "light.kitchen_light": {"state": "off", "attributes": {"friendly_name": "Kitchen Light",
                                                           "supported_color_modes": ["brightness"],
                                                           "supported_features": 32}},
    "switch.coffee_maker": {"state": "off", "attributes": {"friendly_name": "Coffee Maker"}},
    "sensor.outside_temperature": {"state": "12.3", "attributes": {"friendly_name": "Outside Temperature",
                                                                   "unit_of_measurement": "°C",
                                                                   "device_class": "temperature",
                                                                   "state_class": "measurement"}},
    "lock.front_door": {"state": "locked", "attributes": {"friendly_name": "Front Door"}},
}

# service -> the state it leaves, or a function of the old state
SERVICES = {
    "turn_on": lambda old: "on",
    "turn_off": lambda old: "off",
    "toggle": lambda old: "off" if old == "on" else "on",
    "lock": lambda old: "locked",
    "unlock": lambda old: "unlocked",
}

ID = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def convert(name, value, query):
    """The value and unit of a variable in the units the query asks for."""
    metric, unit = value
    if unit == "°C" and query.get("temperature_unit", [""])[0] == "fahrenheit":
        return round(metric * 9 / 5 + 32, 1), "°F"
    if unit == "km/h":
        wanted = query.get("wind_speed_unit", ["kmh"])[0]
        if wanted == "mph":
            return round(metric / 1.609344, 1), "mp/h"
        if wanted == "ms":
            return round(metric / 3.6, 1), "m/s"
        if wanted == "kn":
            return round(metric / 1.852, 1), "kn"
    return metric, unit


def forecast(query):
    if "latitude" not in query or "longitude" not in query:
        return 400, {"error": True, "reason": "Parameter 'latitude' and 'longitude' must be set."}
    try:
        lat, lon = float(query["latitude"][0]), float(query["longitude"][0])
    except ValueError:
        return 400, {"error": True, "reason": "Latitude and longitude must be numbers."}
    if not -90 <= lat <= 90:
        return 400, {"error": True, "reason": f"Latitude must be in range of -90 to 90°. Given: {lat}."}
    today = datetime.date.today().isoformat()
    body = {
        "latitude": round(lat, 2), "longitude": round(lon, 2), "generationtime_ms": 0.05,
        "utc_offset_seconds": 0, "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 38.0,
    }
    for section, table, time_value, extra_units, extra in (
            ("current", CURRENT, today + "T10:15", {"interval": "seconds"}, {"interval": 900}),
            ("daily", DAILY, [today], {}, {})):
        asked = [v for v in ",".join(query.get(section, [])).split(",") if v]
        if not asked:
            continue
        unknown = [v for v in asked if v not in table]
        if unknown:
            return 400, {"error": True, "reason": f"Cannot initialize WeatherVariable from invalid String value {unknown[0]}"}
        units = {"time": "iso8601", **extra_units}
        values = {"time": time_value, **extra}
        for name in asked:
            value, unit = convert(name, table[name], query)
            units[name] = unit
            values[name] = value if section == "current" else [value]
        body[section + "_units"] = units
        body[section] = values
    return 200, body


class Fixture:
    def __init__(self, token, states):
        self.token = token
        self.lock = threading.Lock()
        self.states = {}
        for entity_id, s in states.items():
            self.states[entity_id] = self.full_state(entity_id, s.get("state", "unknown"), s.get("attributes", {}))

    @staticmethod
    def full_state(entity_id, state, attributes):
        t = now_iso()
        return {"entity_id": entity_id, "state": state, "attributes": attributes, "last_changed": t,
                "last_reported": t, "last_updated": t,
                "context": {"id": "01FIXTURE0000000000000000", "parent_id": None, "user_id": None}}

    def get_state(self, entity_id):
        with self.lock:
            if entity_id not in self.states:
                return 404, {"message": "Entity not found."}
            return 200, self.states[entity_id]

    def all_states(self):
        with self.lock:
            return 200, list(self.states.values())

    def call_service(self, domain, service, data):
        if service not in SERVICES or not ID.match(f"{domain}.{service}"):
            return 400, {"message": f"Service {domain}.{service} not found."}
        ids = data.get("entity_id", []) if isinstance(data, dict) else []
        if isinstance(ids, str):
            ids = [ids]
        changed = []
        with self.lock:
            for entity_id in ids:
                old = self.states.get(entity_id)
                if old is None:
                    continue
                new_state = SERVICES[service](old["state"])
                if new_state != old["state"]:
                    s = self.full_state(entity_id, new_state, old["attributes"])
                    self.states[entity_id] = s
                    changed.append(copy.deepcopy(s))
        return 200, changed


def make_handler(fixture, log_path, delay):
    log_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "sipvoice-http-fixtures/1"

        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            pass  # the --log file is the record; stderr stays quiet

        def read_body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def record(self, url, body):
            if not log_path:
                return
            line = json.dumps({"method": self.command, "path": url.path,
                               "query": urllib.parse.parse_qs(url.query, keep_blank_values=True),
                               "headers": {k: v for k, v in self.headers.items()},
                               "body": body.decode("utf-8", "replace")})
            with log_lock, open(log_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()

        def send(self, status, payload, content_type="application/json"):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            if delay > 0:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up first (its timeout, with --delay): nothing to report.
                self.close_connection = True

        def authorized(self):
            if self.headers.get("Authorization") == f"Bearer {fixture.token}":
                return True
            self.send(401, b"401: Unauthorized", "text/plain; charset=utf-8")
            return False

        def handle_any(self):
            url = urllib.parse.urlsplit(self.path)
            body = self.read_body()
            self.record(url, body)
            path = url.path
            if self.command == "GET" and path == "/v1/forecast":
                return self.send(*forecast(urllib.parse.parse_qs(url.query)))
            if not path.startswith("/api/"):
                return self.send(404, {"error": True, "reason": "Not Found"})
            if not self.authorized():
                return None
            m_state = re.fullmatch(r"/api/states/([^/]+)", path)
            m_service = re.fullmatch(r"/api/services/([^/]+)/([^/]+)", path)
            if self.command == "GET" and path == "/api/":
                return self.send(200, {"message": "API running."})
            if self.command == "GET" and path == "/api/states":
                return self.send(*fixture.all_states())
            if self.command == "GET" and m_state:
                return self.send(*fixture.get_state(urllib.parse.unquote(m_state.group(1))))
            if self.command == "POST" and m_service:
                try:
                    data = json.loads(body or b"{}")
                except ValueError:
                    return self.send(400, {"message": "Invalid JSON specified."})
                return self.send(*fixture.call_service(m_service.group(1), m_service.group(2), data))
            return self.send(405 if m_state or m_service else 404, {"message": "Not found or not allowed."})

        do_GET = handle_any
        do_POST = handle_any

    return Handler


def main():
    parser = argparse.ArgumentParser(description="An Open-Meteo and Home Assistant stand-in on 127.0.0.1.",
                                     epilog="See the module's docstring (head of this file) for the endpoints.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--token", default="test-token", help="the Home Assistant bearer token")
    parser.add_argument("--log", help="append one JSON line per request to this file")
    parser.add_argument("--states", help="a JSON file of Home Assistant states replacing the built-in ones")
    parser.add_argument("--delay", type=float, default=0, help="seconds to wait before every answer")
    args = parser.parse_args()

    states = DEFAULT_STATES
    if args.states:
        with open(args.states, encoding="utf-8") as f:
            states = json.load(f)
        if not isinstance(states, dict):
            sys.exit("--states: want a JSON object of entity id -> {state, attributes}")
    fixture = Fixture(args.token, states)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(fixture, args.log, args.delay))
    server.daemon_threads = True
    print(f"listening port={server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
