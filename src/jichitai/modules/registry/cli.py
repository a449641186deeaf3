"""``jichitai registry …``: the register's own commands (declared in ``module.py``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from jichitai.platform.cli_support import ACTOR, engine_for_command
from jichitai.platform.db import read_session
from jichitai.platform.tenancy import get_tenant

app = typer.Typer(help="住民記録", no_args_is_help=True)
console = Console(soft_wrap=True)  # a log line stays one line when piped to cron or grep


@app.command()
def generate(
    municipality: Annotated[str, typer.Option("--municipality", help="全国地方公共団体コード")],
    residents: Annotated[int, typer.Option("--residents", min=1, max=5_000_000, help="生成する住民数")],
    seed: Annotated[int, typer.Option(help="乱数の種 (同じ種なら同じ住民)")] = 1,
) -> None:
    """Generate synthetic residents (合成住民データを生成します)."""
    from jichitai.devdata.registry.population import generate_population

    with engine_for_command() as engine:
        with read_session(engine) as session:
            tenant = get_tenant(session, municipality)
        stats = generate_population(engine, tenant, residents, seed=seed, actor=ACTOR, progress=True)
    console.print_json(json.dumps(stats, ensure_ascii=False, default=str))
