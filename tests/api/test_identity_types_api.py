"""``/v1/identity-types`` over HTTP: register, read, refuse built-in changes, delete."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_problem


def test_register_list_show_and_delete(client: Any, token: Any) -> None:
    headers = {"Authorization": f"Bearer {token('registry:write', 'registry:read')}"}
    body = {"case": "upper", "trim": True, "pattern": r"LY-\d{4}", "dsar_allowed": True}
    created = client.put("/v1/identity-types/loyalty_no", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["built_in"] is False
    again = client.put("/v1/identity-types/loyalty_no", headers=headers, json=body | {"case": "lower"})
    assert again.status_code == 200 and again.get_json()["case"] == "lower"
    listed = [t["key"] for t in client.get("/v1/identity-types", headers=headers).get_json()]
    assert listed == ["email", "phone", "customer_id", "device_id", "loyalty_no"]
    assert client.get("/v1/identity-types/email", headers=headers).get_json()["built_in"] is True
    assert_problem(client.get("/v1/identity-types/passport", headers=headers), 404)
    assert client.delete("/v1/identity-types/loyalty_no", headers=headers).status_code == 204
    assert_problem(client.delete("/v1/identity-types/loyalty_no", headers=headers), 404)


def test_refusals(client: Any, token: Any) -> None:
    headers = {"Authorization": f"Bearer {token('registry:write')}"}
    assert_problem(client.put("/v1/identity-types/email", headers=headers, json={}), 409)
    assert_problem(client.delete("/v1/identity-types/email", headers=headers), 409)
    assert_problem(client.put("/v1/identity-types/member", headers=headers, json={"pattern": "("}), 422)
    assert_problem(client.put("/v1/identity-types/member", headers=headers, json={"case": "x"}), 422)
    reader = {"Authorization": f"Bearer {token('consent:read')}"}
    assert_problem(client.put("/v1/identity-types/member", headers=reader, json={}), 403)
