"""What each dialect looks like on the wire, phase by phase (in-process app, a frozen clock we move)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import profiles
from mockserver.http.app import Server, create_app
from mockserver.core.clock import Clock
from mockserver.config import ServerConfig
from mockserver.profiles import ProfileError

AUTH = {"Authorization": "Bearer sk-profile-tests"}
# With X-Mock-Duration 8 a job is queued for 2 s, then running for 6 s.
DURATION = {"X-Mock-Duration": "8"}


@dataclass
class Fake:
    http: TestClient
    clock: Clock

    def create(self, model: str = "sora-2", **fields: str) -> dict[str, Any]:
        data = {"model": model, "prompt": "a calico cat", "seconds": "4", "size": "1280x720", **fields}
        response = self.http.post("/v1/videos", data=data, files={"_": (None, "")}, headers={**AUTH, **DURATION})
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, video_id: str) -> Any:
        return self.http.get(f"/v1/videos/{video_id}", headers=AUTH)

    def phases(self, model: str = "sora-2") -> list[dict[str, Any]]:
        """The same job seen queued, running and completed."""
        created = self.create(model)
        self.clock.advance(3)
        running = self.get(created["id"]).json()
        self.clock.advance(10)
        return [created, running, self.get(created["id"]).json()]


def fake(profile: str, **options: str) -> Fake:
    clock = Clock()
    clock.freeze()
    server = Server(ServerConfig(profile=profile, seed=7, profile_options=options), clock=clock)
    return Fake(TestClient(create_app(server=server)), clock)


def is_mp4(data: bytes) -> bool:
    return data[4:8] == b"ftyp"


def test_reference_speaks_the_official_words_and_id_format() -> None:
    queued, running, done = fake("reference").phases()
    assert [queued["status"], running["status"], done["status"]] == ["queued", "in_progress", "completed"]
    assert queued["id"].startswith("video_") and done["seconds"] == "4"
    assert queued["completed_at"] is None and queued["error"] is None  # required-nullable fields stay, as null


def test_docs_says_processing_and_puts_a_working_url_and_quality_on_the_finished_video() -> None:
    app = fake("docs")
    queued, running, done = app.phases()
    assert [queued["status"], running["status"], done["status"]] == ["queued", "processing", "completed"]
    assert all(doc["quality"] == "standard" for doc in (queued, running, done))
    assert "url" not in running
    download = app.http.get(done["url"], headers=AUTH)
    assert download.status_code == 200 and is_mp4(download.content)
    missing = app.get("video_missing")
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"message", "type", "code"}  # the docs' envelope: no `param`


def test_newapi_task_ids_omitted_empty_fields_and_metadata_url() -> None:
    app = fake("newapi")
    queued, running, done = app.phases()
    assert queued["id"].startswith("task_") and queued["task_id"] == queued["id"]
    assert [queued["status"], running["status"], done["status"]] == ["queued", "in_progress", "completed"]
    for doc in (queued, running, done):
        assert None not in doc.values(), doc  # Go omitempty: no nulls on the wire
        assert "prompt" not in doc
    assert "completed_at" not in queued and "error" not in queued and "metadata" not in queued
    assert queued["progress"] == 0  # progress has no omitempty in the DTO
    assert done["usage"] == {"completion_tokens": 4, "total_tokens": 4}
    download = app.http.get(done["metadata"]["url"], headers=AUTH)
    assert download.status_code == 200 and is_mp4(download.content)


def test_newapi_unknown_id_is_a_400_task_error_without_the_openai_envelope() -> None:
    app = fake("newapi")
    response = app.get("task_doesnotexist")
    assert response.status_code == 400
    assert response.json() == {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    content = app.http.get("/v1/videos/task_doesnotexist/content", headers=AUTH)
    assert content.status_code == 404
    assert content.json() == {"error": {"message": "Task not found", "type": "invalid_request_error"}}


def test_newapi_content_before_completion_names_the_internal_status() -> None:
    app = fake("newapi")
    job = app.create()
    early = app.http.get(f"/v1/videos/{job['id']}/content", headers=AUTH)
    assert early.status_code == 400
    assert early.json()["error"]["message"] == "Task is not completed yet, current status: QUEUED"
    app.clock.advance(3)
    running = app.http.get(f"/v1/videos/{job['id']}/content", headers=AUTH)
    assert running.json()["error"]["message"] == "Task is not completed yet, current status: IN_PROGRESS"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/videos"), ("DELETE", "/v1/videos/{id}"), ("POST", "/v1/videos/edits"),
        ("POST", "/v1/videos/extensions"), ("POST", "/v1/videos/characters"), ("GET", "/v1/videos/characters/char_1"),
        ("PUT", "/v1/videos"),  # a wrong method is gin's NoRoute too, not a 405
    ],
)
def test_newapi_has_no_list_delete_edits_or_characters_and_answers_like_gins_no_route(method: str, path: str) -> None:
    app = fake("newapi")
    job = app.create()
    path = path.replace("{id}", job["id"])
    for headers in (AUTH, {}):  # the router answers before any auth
        response = app.http.request(method, path, headers=headers)
        assert response.status_code == 404
        assert response.json() == {
            "error": {"message": f"Invalid URL ({method} {path})", "type": "invalid_request_error", "param": "", "code": ""}
        }
    assert app.get(job["id"]).status_code == 200  # the DELETE did not reach the job


def test_the_reference_still_serves_list_and_delete() -> None:
    app = fake("reference")
    job = app.create()
    assert [v["id"] for v in app.http.get("/v1/videos", headers=AUTH).json()["data"]] == [job["id"]]
    app.clock.advance(20)  # a job can be deleted once it has finished
    assert app.http.delete(f"/v1/videos/{job['id']}", headers=AUTH).json()["deleted"] is True


def test_newapi_submits_carry_the_billing_ratios_header_and_content_is_publicly_cacheable() -> None:
    app = fake("newapi")
    plain = app.http.post("/v1/videos", data={"prompt": "a cat"}, files={"_": (None, "")}, headers=AUTH)
    assert json.loads(plain.headers["x-new-api-other-ratios"]) == {"seconds": 4, "size": 1}
    large = app.http.post(
        "/v1/videos", data={"prompt": "a cat", "seconds": "8", "size": "1792x1024"}, files={"_": (None, "")}, headers={**AUTH, **DURATION}
    )
    assert large.headers["x-new-api-other-ratios"] == '{"seconds":8,"size":1.666667}'  # as Go marshals the map
    assert large.json()["id"].startswith("task_")  # the buffered body still arrives whole
    app.clock.advance(20)
    download = app.http.get(f"/v1/videos/{large.json()['id']}/content", headers=AUTH)
    assert download.status_code == 200 and is_mp4(download.content)
    assert download.headers["cache-control"] == "public, max-age=86400"
    assert "x-new-api-other-ratios" not in app.get(large.json()["id"]).headers
    assert "x-new-api-other-ratios" not in fake("reference").http.post(
        "/v1/videos", data={"prompt": "a cat"}, files={"_": (None, "")}, headers=AUTH
    ).headers


def test_newapi_kling_millisecond_timestamps_are_opt_in_and_only_for_kling_models() -> None:
    plain = fake("newapi").phases("kling-v1")[2]
    assert plain["created_at"] < 10**11  # seconds
    app = fake("newapi", kling_ms_timestamps="true")
    queued, _, done = app.phases("kling-v1")
    assert queued["created_at"] > 10**12 and done["completed_at"] > 10**12  # milliseconds
    assert queued["completed_at"] == queued["created_at"]  # set from the last update even before completion
    assert done["completed_at"] - done["created_at"] == 8000
    sora = app.phases("sora-2")[2]
    assert sora["created_at"] < 10**11


def test_omnimaas_says_processing_until_it_succeeds_and_seconds_is_an_integer() -> None:
    app = fake("omnimaas")
    queued, running, done = app.phases()
    assert [queued["status"], running["status"], done["status"]] == ["processing", "processing", "succeeded"]
    assert done["seconds"] == 4
    missing = app.get("video_missing")
    assert missing.status_code == 404 and set(missing.json()["error"]) == {"message", "type"}


def test_aihubmix_ids_are_base64_json_that_work_in_paths_and_videos_carry_dimensions() -> None:
    app = fake("aihubmix")
    queued, _, done = app.phases()
    assert queued["id"].startswith("eyJ") and "/" not in queued["id"]
    decoded = json.loads(base64.urlsafe_b64decode(queued["id"] + "=" * (-len(queued["id"]) % 4)))
    assert decoded["provider"] == "aihubmix"
    assert (done["duration"], done["width"], done["height"]) == (4, 1280, 720)
    download = app.http.get(f"/v1/videos/{done['id']}/content", headers=AUTH)
    assert download.status_code == 200 and is_mp4(download.content)


def test_vllm_omni_ids_and_inference_extras_appear_once_the_job_has_run() -> None:
    queued, _, done = fake("vllm-omni").phases()
    assert queued["id"].startswith("video_gen_")
    assert (queued["quality"], queued["media_type"], queued["prompt"]) == ("default", "video/mp4", "a calico cat")
    assert queued["file_name"] is None and queued["inference_time_s"] is None and queued["stage_durations"] == {}
    assert done["file_name"] == f"{done['id']}.mp4"
    assert done["inference_time_s"] == 6.0 and done["peak_memory_mb"] > 0
    assert sum(done["stage_durations"].values()) == pytest.approx(6.0)


@pytest.mark.parametrize("name", profiles.NAMES)
def test_a_seed_makes_every_profiles_ids_reproducible(name: str) -> None:
    assert fake(name).create()["id"] == fake(name).create()["id"]


@pytest.mark.parametrize("name", profiles.NAMES)
def test_every_profile_keeps_the_servers_ownership_rule(name: str) -> None:
    app = fake(name)
    job = app.create()
    stranger = app.http.get(f"/v1/videos/{job['id']}", headers={"Authorization": "Bearer sk-someone-else"})
    assert stranger.status_code in (400, 404)  # whatever the dialect calls it, another key's job does not exist
    assert "a calico cat" not in stranger.text


def test_unknown_profile_and_unknown_option_are_clear_errors() -> None:
    with pytest.raises(ProfileError, match="known profiles: reference, docs"):
        profiles.load("sora-official")
    with pytest.raises(ProfileError, match="has no option bogus .*kling_ms_timestamps"):
        profiles.load("newapi", {"bogus": "1"})
    with pytest.raises(ProfileError, match="must be true or false"):
        profiles.load("newapi", {"kling_ms_timestamps": "maybe"})


def test_the_control_api_keeps_the_openai_envelope_whatever_the_dialect() -> None:
    app = fake("omnimaas")
    response = app.http.post("/__mock/clock/advance", json={"seconds": -5})  # time cannot go back
    assert response.status_code >= 400
    assert {"message", "type", "param", "code"} <= set(response.json()["error"])
