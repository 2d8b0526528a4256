"""The SAM CLI, with `--docker-network host` giving the functions' containers
the host's network, as `docker run --network host` does.

SAM CLI 1.170 accepts `--docker-network host` but leaves the containers on
Docker's default bridge, where 127.0.0.1 is the container itself: the
functions then reach neither moto nor a receiver on the host's loopback (the
README walkthrough's http://127.0.0.1:4000/hook). Here each container runs in
the host's network namespace instead, its runtime interface emulator on the
port SAM already picked for it and its Runtime API on another free loopback
port, so containers side by side do not collide. Everything else is the
SAM CLI as installed (run as `python sam.py <sam arguments>`)."""
import socket
import sys

import docker.models.containers
from samcli.local.docker import container as sam_container

_create = sam_container.Container.create
_docker_create = docker.models.containers.ContainerCollection.create


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create(self, *args, **kwargs):
    if self.network_id == "host":
        self._container_opts = {**(self._container_opts or {}), "network_mode": "host"}
        self._entrypoint = list(self._entrypoint or []) + [
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.rapid_port_host}",
            "--runtime-api-address",
            f"127.0.0.1:{_free_port()}",
        ]
    return _create(self, *args, **kwargs)


def docker_create(self, image, command=None, **kwargs):
    if kwargs.get("network_mode") == "host":
        kwargs.pop("ports", None)  # published ports mean nothing on the host's network
    return _docker_create(self, image, command, **kwargs)


sam_container.Container.create = create
docker.models.containers.ContainerCollection.create = docker_create

if __name__ == "__main__":
    from samcli.cli.main import cli

    sys.argv[0] = "sam"
    sys.exit(cli())
