#!/usr/bin/env python3
"""docker/: the compose file parses (with `docker compose config` when the compose plugin is
installed, else with PyYAML) and wires what docs/packaging.md promises: NATS with JetStream,
the four tradehost roles with health checks on their ports, Prometheus scraping each role, and
Grafana provisioned with a dashboard covering the contract's metrics.
Usage: docker_test.py SOURCE_DIR. Exit 77 (skipped) when neither parser is available."""
import json
import os
import re
import shutil
import subprocess
import sys

src = sys.argv[1]
docker = os.path.join(src, "docker")
env = dict(os.environ, TRADEHOST_WEBHOOK_SECRET="compose-test-secret")


def load_compose():
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            out = subprocess.run(["docker", "compose", "-f", os.path.join(docker, "compose.yaml"), "config",
                                  "--format", "json"], capture_output=True, text=True, env=env, check=True)
            print("parsed with docker compose config")
            return json.loads(out.stdout)
    try:
        import yaml
    except ImportError:
        print("SKIP: neither `docker compose` nor python3-yaml is installed")
        sys.exit(77)
    print("docker compose is unavailable: parsed with PyYAML (anchors and merge keys resolved)")
    with open(os.path.join(docker, "compose.yaml")) as f:
        return yaml.safe_load(f)


def load_yaml(path):
    import yaml  # only reached when PyYAML exists (or docker compose did not need it)
    with open(path) as f:
        return yaml.safe_load(f)


compose = load_compose()
services = compose["services"]
problems = []

if "-js" not in services["nats"]["command"]:
    problems.append("nats does not run with JetStream (-js)")
ports = {"gateway": "8001", "agent": "8002", "exec": "8004", "audit": "8005"}
for role, port in ports.items():
    s = services.get(role)
    if not s:
        problems.append(f"no {role} service")
        continue
    cmd = s["command"]
    if cmd[:3] != ["run", "-c", "/etc/tradehost/compose.yaml"] or cmd[cmd.index("--role") + 1] != role:
        problems.append(f"{role}: command {cmd}")
    if f"0.0.0.0:{port}" not in cmd:
        problems.append(f"{role}: does not listen on 0.0.0.0:{port}")
    if str(s["environment"].get("TRADEHOST_HEALTH_PORT")) != port:
        problems.append(f"{role}: health check port is not {port}")
    if s["build"]["dockerfile"] != "docker/Dockerfile":
        problems.append(f"{role}: not built from docker/Dockerfile")

dockerfile = open(os.path.join(docker, "Dockerfile")).read()
stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)
if stages != ["debian:12", "debian:12"]:
    problems.append(f"Dockerfile stages {stages}, expected two debian:12 stages")
if not re.search(r"^USER tradehost$", dockerfile, re.M):
    problems.append("Dockerfile does not switch to the non-root tradehost user")
if not re.search(r"^HEALTHCHECK .*\n?.*/healthz", dockerfile, re.M):
    problems.append("Dockerfile has no HEALTHCHECK on /healthz")

prometheus = load_yaml(os.path.join(docker, "prometheus", "prometheus.yml"))
targets = {t for job in prometheus["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
for role, port in ports.items():
    if f"{role}:{port}" not in targets:
        problems.append(f"prometheus does not scrape {role}:{port}")

provisioned = load_yaml(os.path.join(docker, "grafana", "provisioning", "dashboards", "tradehost.yaml"))
mounts = services["grafana"]["volumes"]
mount_text = json.dumps(mounts)
if provisioned["providers"][0]["options"]["path"] not in mount_text:
    problems.append("grafana's dashboard provider path is not mounted")
dashboard = json.load(open(os.path.join(docker, "grafana", "dashboards", "tradehost.json")))
exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
for metric in ["gateway_webhooks_received_total", "agent_decision_latency_seconds_bucket",
               "exec_sim_fills_generated_total", "agent_risk_checks_failed_total", "audit_sink_events_written_total",
               "tradehost_position", "tradehost_unrealized_pnl", "tradehost_consumer_pending"]:
    if metric not in exprs:
        problems.append(f"dashboard has no panel on {metric}")
if "by (instrument)" not in exprs or "by (status)" not in exprs:
    problems.append("dashboard lacks fills by instrument or webhooks by status")

for p in problems:
    print("FAIL:", p)
print(f"docker_test: {'FAILED' if problems else 'all passed'}")
sys.exit(1 if problems else 0)
