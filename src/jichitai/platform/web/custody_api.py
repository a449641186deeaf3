"""``/api/v1/custody/{lg_code}/…``: this installation holding another town's off-site copy (DESIGN §5).

Authenticated per depositing municipality by the custody token ``jichitai custody grant`` printed; the
token opens only that town's folder. What is stored is what :class:`.DirectoryCustodian` stores: chunk
files (clear header + ciphertext), wrapped data keys and the clear chain heads. Nothing here can decrypt
them. A chunk is accepted only if its clear header names the URL's chunk id and town, and its wrapped keys
were stored first, so a listed chunk can always be opened by a key holder.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from jichitai.platform.db import read_session
from jichitai.platform.errors import Conflict, DomainError, InvalidInput, NotFound
from jichitai.platform.offsite.custodian import DirectoryCustodian
from jichitai.platform.offsite.custody import check_chunk_id, check_token, superseded
from jichitai.platform.offsite.envelope import ChunkCorrupt, read_header
from jichitai.platform.tenancy import parse_lg_code

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/custody/{lg_code}", tags=["副本の保管"])
custody_scheme = HTTPBearer(auto_error=False, description="保管トークン (jichitai custody grant で発行)")


class StorageUnavailable(DomainError):
    """The custody directory cannot be written or read right now (503; the depositor retries later)."""

    status = 503


class Depositor:
    """The authenticated depositing town and its folder at this custodian."""

    def __init__(self, lg_code: str, store: DirectoryCustodian) -> None:
        self.lg_code = lg_code
        self.store = store


def depositor(
    lg_code: str,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(custody_scheme)],
) -> Depositor:
    """The depositor named in the URL, if the bearer token is its custody token (else 401)."""
    try:
        code = parse_lg_code(lg_code)
    except InvalidInput:
        code = ""
    with read_session(request.app.state.engine) as session:
        try:
            check_token(session, code, credentials.credentials if credentials else None)
        except DomainError:
            request.app.state.anonymous_limiter.hit(request.client.host if request.client else "unknown")
            raise
    return Depositor(code, DirectoryCustodian(request.app.state.custody_dir))


Deposit = Annotated[Depositor, Depends(depositor)]


class ChunkList(BaseModel):
    """The chunk ids held for the town, sorted (ids carry the journal ranges)."""

    chunks: list[str]


class ChainHead(BaseModel):
    """A chain's last sequence number and hash."""

    seq: int = Field(ge=0)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class Heads(BaseModel):
    """The journal and audit chain heads of the newest chunk (clear: numbers and hashes only)."""

    journal: ChainHead
    audit: ChainHead | None = None


WrappedKeys = Annotated[
    dict[Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")], Annotated[str, Field(max_length=200)]],
    Field(min_length=1, max_length=8),
]


def _storage_error(exc: OSError) -> StorageUnavailable:
    log.error("custody storage failed", extra={"error": type(exc).__name__})
    return StorageUnavailable("custody_storage_unavailable", "保管先の記憶域が利用できません。")


@router.get("/chunks", response_model=ChunkList, summary="保管しているチャンクの一覧")
def list_chunks(deposit: Deposit) -> ChunkList:
    """Every chunk id held for the town."""
    return ChunkList(chunks=deposit.store.list(deposit.lg_code))


@router.get("/chunks/{chunk_id}", summary="チャンクの取得", response_class=Response)
def get_chunk(chunk_id: str, deposit: Deposit) -> Response:
    """A chunk's stored bytes."""
    check_chunk_id(chunk_id)
    try:
        blob = deposit.store.get(deposit.lg_code, chunk_id)
    except FileNotFoundError as exc:
        raise NotFound("チャンク") from exc
    return Response(blob, media_type="application/octet-stream")


@router.put("/chunks/{chunk_id}", status_code=204, summary="チャンクの保管")
async def put_chunk(chunk_id: str, request: Request, deposit: Deposit) -> Response:
    """Store a chunk (its wrapped keys first); the clear header must name this chunk and town."""
    check_chunk_id(chunk_id)
    blob = await request.body()
    try:
        header = read_header(chunk_id, blob)[0]
    except ChunkCorrupt as exc:
        raise InvalidInput("not_a_chunk", "副本のチャンクではありません。") from exc
    if header.get("lg_code") != deposit.lg_code:
        raise InvalidInput("not_a_chunk", "副本のチャンクではありません。")
    if not await run_in_threadpool(deposit.store.has_wraps, deposit.lg_code, chunk_id):
        raise Conflict("chunk_keys_missing", "チャンクより先にデータ鍵を保管してください。")
    try:
        await run_in_threadpool(deposit.store.write_chunk, deposit.lg_code, chunk_id, blob)
    except OSError as exc:
        raise _storage_error(exc) from exc
    log.info("custody chunk stored", extra={"depositor": deposit.lg_code, "chunk": chunk_id})
    return Response(status_code=204)


@router.get("/chunks/{chunk_id}/keys", summary="ラップされたデータ鍵の取得")
def get_keys(chunk_id: str, deposit: Deposit) -> dict[str, str]:
    """A chunk's wrapped data keys by key id."""
    check_chunk_id(chunk_id)
    try:
        return deposit.store.get_wraps(deposit.lg_code, chunk_id)
    except FileNotFoundError as exc:
        raise NotFound("データ鍵") from exc


@router.put("/chunks/{chunk_id}/keys", status_code=204, summary="ラップされたデータ鍵の保管")
def put_keys(chunk_id: str, wraps: WrappedKeys, deposit: Deposit) -> Response:
    """Store or replace (key rotation) a chunk's wrapped data keys."""
    check_chunk_id(chunk_id)
    try:
        deposit.store.put_wraps(deposit.lg_code, chunk_id, wraps)
    except OSError as exc:
        raise _storage_error(exc) from exc
    return Response(status_code=204)


@router.delete("/chunks/{chunk_id}", status_code=204, summary="置き換えられたチャンクの削除")
def delete_chunk(chunk_id: str, deposit: Deposit) -> Response:
    """Delete a chunk only if a newer complete snapshot held here supersedes it."""
    check_chunk_id(chunk_id)
    if not superseded(deposit.store.list(deposit.lg_code), chunk_id):
        raise Conflict(
            "chunk_not_superseded", "より新しいスナップショットがないため、このチャンクは削除できません。"
        )
    deposit.store.delete(deposit.lg_code, chunk_id)
    log.info("custody chunk deleted", extra={"depositor": deposit.lg_code, "chunk": chunk_id})
    return Response(status_code=204)


@router.get("/heads", response_model=Heads, summary="チェーンの先頭")
def get_heads(deposit: Deposit) -> Heads:
    """The chain heads the town last recorded here."""
    heads = deposit.store.heads(deposit.lg_code)
    if heads is None:
        raise NotFound("チェーンの先頭")
    return Heads.model_validate(heads)


@router.put("/heads", status_code=204, summary="チェーンの先頭の記録")
def put_heads(heads: Heads, deposit: Deposit) -> Response:
    """Record the chain heads of the newest chunk."""
    try:
        deposit.store.put_heads(deposit.lg_code, heads.model_dump())
    except OSError as exc:
        raise _storage_error(exc) from exc
    return Response(status_code=204)
