"""Identity pool administration through boto3."""

import re

import botocore
import pytest


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_create_describe_list_delete(cognito):
    pool = cognito.create_identity_pool(
        IdentityPoolName="boto pool",
        AllowUnauthenticatedIdentities=True,
        SupportedLoginProviders={"graph.facebook.com": "1234567890"},
        IdentityPoolTags={"env": "test"},
    )
    pool_id = pool["IdentityPoolId"]
    assert re.fullmatch(r"us-east-1:[0-9a-f-]{36}", pool_id)
    assert "AllowClassicFlow" not in pool
    described = cognito.describe_identity_pool(IdentityPoolId=pool_id)
    assert described["IdentityPoolName"] == "boto pool"
    assert described["SupportedLoginProviders"] == {"graph.facebook.com": "1234567890"}
    assert described["IdentityPoolTags"] == {"env": "test"}

    listed = cognito.list_identity_pools(MaxResults=60)["IdentityPools"]
    assert {"IdentityPoolId": pool_id, "IdentityPoolName": "boto pool"} in listed

    cognito.delete_identity_pool(IdentityPoolId=pool_id)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cognito.describe_identity_pool(IdentityPoolId=pool_id)
    assert error_code(e) == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == f"IdentityPool '{pool_id}' not found."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_update_replaces_settings(cognito):
    pool_id = cognito.create_identity_pool(
        IdentityPoolName="upd",
        AllowUnauthenticatedIdentities=False,
        SupportedLoginProviders={"accounts.google.com": "client.apps"},
        DeveloperProviderName="login.a",
    )["IdentityPoolId"]
    cognito.update_identity_pool(
        IdentityPoolId=pool_id,
        IdentityPoolName="upd",
        AllowUnauthenticatedIdentities=False,
    )
    described = cognito.describe_identity_pool(IdentityPoolId=pool_id)
    assert "SupportedLoginProviders" not in described
    assert described["DeveloperProviderName"] == "login.a"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cognito.update_identity_pool(
            IdentityPoolId=pool_id,
            IdentityPoolName="upd",
            AllowUnauthenticatedIdentities=False,
            DeveloperProviderName="login.b",
        )
    assert error_code(e) == "InvalidParameterException"


def test_server_side_validation(cognito):
    # boto3 checks only required members and minimums; the server must check the rest.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cognito.create_identity_pool(IdentityPoolName="bad/name", AllowUnauthenticatedIdentities=True)
    assert error_code(e) == "ValidationException"
    assert "at 'identityPoolName' failed to satisfy constraint" in e.value.response["Error"]["Message"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        cognito.describe_identity_pool(IdentityPoolId="us-east-1_abc")
    assert error_code(e) == "ValidationException"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        cognito.list_identity_pools(MaxResults=61)
    assert error_code(e) == "ValidationException"
    assert "less than or equal to 60" in e.value.response["Error"]["Message"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        cognito.create_identity_pool(
            IdentityPoolName="ok", AllowUnauthenticatedIdentities=True,
            SupportedLoginProviders={"example.com": "x"},
        )
    assert error_code(e) == "InvalidParameterException"


def test_list_pagination(server):
    cognito = server.client("cognito-identity", region="ap-south-1")
    ids = {
        cognito.create_identity_pool(IdentityPoolName=f"page{i}", AllowUnauthenticatedIdentities=False)[
            "IdentityPoolId"
        ]
        for i in range(3)
    }
    assert all(i.startswith("ap-south-1:") for i in ids)
    first = cognito.list_identity_pools(MaxResults=2)
    assert len(first["IdentityPools"]) == 2
    second = cognito.list_identity_pools(MaxResults=2, NextToken=first["NextToken"])
    assert len(second["IdentityPools"]) == 1
    assert "NextToken" not in second
    seen = {p["IdentityPoolId"] for p in first["IdentityPools"] + second["IdentityPools"]}
    assert seen == ids
    paginated = cognito.get_paginator("list_identity_pools").paginate(PaginationConfig={"PageSize": 1})
    assert {p["IdentityPoolId"] for page in paginated for p in page["IdentityPools"]} == ids


def test_tags_and_roles(cognito):
    pool_id = cognito.create_identity_pool(
        IdentityPoolName="tags",
        AllowUnauthenticatedIdentities=True,
        CognitoIdentityProviders=[
            {"ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc", "ClientId": "app1"}
        ],
    )["IdentityPoolId"]
    arn = f"arn:aws:cognito-identity:us-east-1:000000000000:identitypool/{pool_id}"
    cognito.tag_resource(ResourceArn=arn, Tags={"env": "dev"})
    assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "dev"}
    cognito.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}

    roles = {
        "authenticated": "arn:aws:iam::000000000000:role/Auth",
        "unauthenticated": "arn:aws:iam::000000000000:role/Unauth",
    }
    mappings = {
        "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc:app1": {
            "Type": "Rules",
            "AmbiguousRoleResolution": "Deny",
            "RulesConfiguration": {
                "Rules": [
                    {
                        "Claim": "custom:dept",
                        "MatchType": "Equals",
                        "Value": "Sales",
                        "RoleARN": "arn:aws:iam::000000000000:role/Sales",
                    }
                ]
            },
        }
    }
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=roles, RoleMappings=mappings)
    got = cognito.get_identity_pool_roles(IdentityPoolId=pool_id)
    assert got["Roles"] == roles
    assert got["RoleMappings"] == mappings

    with pytest.raises(botocore.exceptions.ClientError) as e:
        cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"admin": roles["authenticated"]})
    assert error_code(e) == "ValidationException"


def test_unsigned_admin_call_is_refused(server):
    from botocore import UNSIGNED
    from botocore.config import Config
    import boto3

    anonymous = boto3.client(
        "cognito-identity", region_name="us-east-1", endpoint_url=server.endpoint,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        anonymous.list_identity_pools(MaxResults=5)
    assert error_code(e) == "MissingAuthenticationTokenException"

    wrong = server.client("cognito-identity", secret="wrong-secret-wrong-secret-wrong-secret00")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        wrong.list_identity_pools(MaxResults=5)
    assert error_code(e) == "InvalidSignatureException"


def test_sts_get_caller_identity(sts):
    me = sts.get_caller_identity()
    assert me["Account"] == "000000000000"
    assert me["Arn"] == "arn:aws:iam::000000000000:root"
