"""template.yaml: each security and reliability property the deployment relies on, one test each."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ferry.config import Deployable
from tests.infra.cfn import (
    actions,
    as_list,
    bucket_policy,
    load_template,
    parameter_default,
    properties,
    render,
    resources,
    statements,
    targets,
)
from tests.infra.ferry_settings import required_in_production, variables_read

BUCKET_ARN = "${EvidenceBucket.Arn}"
OBJECTS = "${EvidenceBucket.Arn}/*"
SERVED = "${EvidenceBucket.Arn}/${CleanPrefix}*"
SCANNER_ROLE = {"Fn::GetAtt": ["ScannerRole", "Arn"]}
# Actions on the bucket itself rather than on its objects.
BUCKET_LEVEL = {"s3:ListBucket", "s3:ListBucketMultipartUploads"}
LAMBDAS = {"ScannerFunction": Deployable.SCANNER, "AuthorizerFunction": Deployable.AUTHORIZER}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _denies(document: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in statements(document) if s["Effect"] == "Deny" and action in actions(s)]


def _only_deny(document: dict[str, Any], action: str, on: str | None = None) -> dict[str, Any]:
    """The one Deny of `action` (on the resource `on` alone, if given)."""
    found = [s for s in _denies(document, action) if on is None or targets(s) == {on}]
    assert len(found) == 1, f"expected one Deny statement for {action}, found {len(found)}"
    statement = found[0]
    assert statement["Principal"] == "*"
    return statement


def _function(template: dict[str, Any], name: str) -> dict[str, Any]:
    resource = template["Resources"][name]
    assert resource["Type"] == "AWS::Serverless::Function"
    return dict(resource["Properties"])


def _environment(template: dict[str, Any], function: str) -> dict[str, Any]:
    return dict(_function(template, function)["Environment"]["Variables"])


# --- buckets -------------------------------------------------------------------------------------


def test_both_buckets_exist(template: dict[str, Any]) -> None:
    assert set(resources(template, "AWS::S3::Bucket")) == {"EvidenceBucket", "SignatureMirrorBucket"}


@pytest.mark.parametrize("bucket", ["EvidenceBucket", "SignatureMirrorBucket"])
def test_bucket_blocks_all_public_access(template: dict[str, Any], bucket: str) -> None:
    block = properties(template, bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


@pytest.mark.parametrize("bucket", ["EvidenceBucket", "SignatureMirrorBucket"])
def test_bucket_is_encrypted_by_default(template: dict[str, Any], bucket: str) -> None:
    rules = properties(template, bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    algorithms = {r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules}
    assert algorithms and algorithms <= {"AES256", "aws:kms", "aws:kms:dsse"}


@pytest.mark.parametrize("bucket", ["EvidenceBucket", "SignatureMirrorBucket"])
def test_bucket_owner_enforced_disables_acls(template: dict[str, Any], bucket: str) -> None:
    rules = properties(template, bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]


@pytest.mark.parametrize("bucket", ["EvidenceBucket", "SignatureMirrorBucket"])
def test_bucket_refuses_requests_without_tls(template: dict[str, Any], bucket: str) -> None:
    statement = _only_deny(bucket_policy(template, bucket), "s3:*")
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert targets(statement) == {f"${{{bucket}.Arn}}", f"${{{bucket}.Arn}}/*"}


def test_evidence_bucket_policy_only_denies(template: dict[str, Any]) -> None:
    # Grants come from IAM (web app policy, scanner role); the bucket policy only takes away.
    assert {s["Effect"] for s in statements(bucket_policy(template, "EvidenceBucket"))} == {"Deny"}


def test_reads_are_denied_unless_the_object_is_tagged_clean(template: dict[str, Any]) -> None:
    statement = _only_deny(bucket_policy(template, "EvidenceBucket"), "s3:GetObject")
    assert {"s3:GetObject", "s3:GetObjectVersion"} <= actions(statement)
    assert targets(statement) == {OBJECTS}
    # Allow-listed: any value but "clean", and no tag at all, is refused. Extra conditions would only
    # narrow the deny (conditions are AND-ed), so there must be exactly these two.
    assert statement["Condition"] == {
        "StringNotEquals": {"s3:ExistingObjectTag/scan-status": "clean"},
        "ArnNotEquals": {"aws:PrincipalArn": SCANNER_ROLE},
    }


def test_tags_cannot_be_removed_but_by_the_scanner(template: dict[str, Any]) -> None:
    statement = _only_deny(bucket_policy(template, "EvidenceBucket"), "s3:DeleteObjectTagging")
    assert {"s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"} <= actions(statement)
    assert targets(statement) == {OBJECTS}
    assert statement["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": SCANNER_ROLE}}


def test_tags_cannot_be_written_but_by_the_scanner_except_pending(template: dict[str, Any]) -> None:
    statement = _only_deny(bucket_policy(template, "EvidenceBucket"), "s3:PutObjectTagging")
    assert {"s3:PutObjectTagging", "s3:PutObjectVersionTagging"} <= actions(statement)
    assert targets(statement) == {OBJECTS}
    # PutObject's x-amz-tagging is authorized as s3:PutObjectTagging: "pending" is the one tag set an
    # upload may be born with; a tag set without scan-status is refused too.
    assert statement["Condition"] == {
        "StringNotEquals": {"s3:RequestObjectTag/scan-status": "pending"},
        "ArnNotEquals": {"aws:PrincipalArn": SCANNER_ROLE},
    }


def test_uploads_cannot_be_born_with_another_scan_status(template: dict[str, Any]) -> None:
    statement = _only_deny(bucket_policy(template, "EvidenceBucket"), "s3:PutObject", on=OBJECTS)
    # IfExists: UploadPart and CompleteMultipartUpload are s3:PutObject requests without tags; a strict
    # condition would refuse every multipart upload.
    assert statement["Condition"] == {
        "StringNotEqualsIfExists": {"s3:RequestObjectTag/scan-status": "pending"},
        "ArnNotEquals": {"aws:PrincipalArn": SCANNER_ROLE},
    }


def test_served_objects_are_written_and_deleted_only_by_the_scanner(template: dict[str, Any]) -> None:
    # What is served is the scanner's copy of what it read: no one else may replace it (PutObject covers
    # CopyObject and multipart uploads too) or remove it, whatever IAM grants.
    statement = _only_deny(bucket_policy(template, "EvidenceBucket"), "s3:PutObject", on=SERVED)
    assert actions(statement) == {"s3:PutObject", "s3:DeleteObject"}
    assert statement["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": SCANNER_ROLE}}
    assert parameter_default(template, "CleanPrefix") == "clean/"
    assert _environment(template, "ScannerFunction")["S3_CLEAN_PREFIX"] == {"Ref": "CleanPrefix"}


def test_mirror_is_written_only_by_the_updater(template: dict[str, Any]) -> None:
    statement = _only_deny(bucket_policy(template, "SignatureMirrorBucket"), "s3:PutObject")
    assert {"s3:PutObject", "s3:DeleteObject"} <= actions(statement)
    assert statement["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["SignatureUpdaterRole", "Arn"]}}
    }


def test_cors_lets_the_widget_upload_and_read_part_etags(template: dict[str, Any]) -> None:
    (rule,) = properties(template, "EvidenceBucket")["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedOrigins"] == {"Ref": "WidgetOrigins"}
    assert set(rule["AllowedMethods"]) == {"PUT", "GET", "HEAD"}
    assert rule["ExposedHeaders"] == ["ETag"]


# --- lifecycle -----------------------------------------------------------------------------------


def _lifecycle_rules(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rule, with conditional ones (Fn::If [condition, rule, NoValue]) taken as present."""
    rules = []
    for rule in properties(template, "EvidenceBucket")["LifecycleConfiguration"]["Rules"]:
        if "Fn::If" in rule:
            _condition, rule, otherwise = rule["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
        rules.append(rule)
    return rules


def test_abandoned_multipart_uploads_are_aborted(template: dict[str, Any]) -> None:
    rules = [r for r in _lifecycle_rules(template) if "AbortIncompleteMultipartUpload" in r]
    assert len(rules) == 1
    (rule,) = rules
    assert rule["Status"] == "Enabled"
    assert "Prefix" not in rule and "Filter" not in rule, "the whole bucket, not one prefix"
    assert rule["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": {"Ref": "AbortIncompleteMultipartUploadDays"}
    }
    assert 1 <= parameter_default(template, "AbortIncompleteMultipartUploadDays") <= 7


@pytest.mark.parametrize(
    ("prefix", "days"),
    [("IncomingPrefix", "IncomingRetentionDays"), ("QuarantinePrefix", "QuarantineRetentionDays")],
)
def test_retention_of_a_prefix_follows_its_parameter(
    template: dict[str, Any], prefix: str, days: str
) -> None:
    rules = [r for r in _lifecycle_rules(template) if r.get("Prefix") == {"Ref": prefix}]
    assert len(rules) == 1
    assert rules[0]["ExpirationInDays"] == {"Ref": days}
    assert rules[0]["Status"] == "Enabled"


# --- queue ---------------------------------------------------------------------------------------


def test_new_uploads_notify_the_scan_queue_for_the_incoming_prefix(template: dict[str, Any]) -> None:
    configs = properties(template, "EvidenceBucket")["NotificationConfiguration"]["QueueConfigurations"]
    assert len(configs) == 1
    (config,) = configs
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Queue"] == {"Fn::GetAtt": ["ScanQueue", "Arn"]}
    assert config["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": {"Ref": "IncomingPrefix"}}]}}
    assert parameter_default(template, "IncomingPrefix") == "incoming/"


def test_scan_queue_accepts_messages_only_from_the_evidence_bucket(template: dict[str, Any]) -> None:
    policy = properties(template, "ScanQueuePolicy")
    assert policy["Queues"] == [{"Ref": "ScanQueue"}]
    allows = [s for s in statements(policy["PolicyDocument"]) if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert actions(allow) == {"sqs:SendMessage"}
    assert (
        render(allow["Condition"]["ArnLike"]["aws:SourceArn"]) == "arn:${AWS::Partition}:s3:::${BucketName}"
    )
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # The condition names the bucket by parameter, so the bucket must carry that very name and wait for
    # the policy (S3 checks that it may send to the queue when the notification is created).
    bucket = template["Resources"]["EvidenceBucket"]
    assert bucket["Properties"]["BucketName"] == {"Ref": "BucketName"}
    assert "ScanQueuePolicy" in as_list(bucket["DependsOn"])


def test_failed_scans_reach_a_dead_letter_queue(template: dict[str, Any]) -> None:
    redrive = properties(template, "ScanQueue")["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["ScanDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    # Above SCAN_MAX_ATTEMPTS (3): a file waiting for fresh signatures is redelivered without using an
    # attempt, and must not reach the DLQ during a short freshclam outage; bounded so poison messages do.
    assert 3 < parameter_default(template, "MaxReceiveCount") <= 50
    # SQS keeps a message's first enqueue time in the DLQ: it must outlive the source queue's retention.
    main = properties(template, "ScanQueue")["MessageRetentionPeriod"]
    assert properties(template, "ScanDeadLetterQueue")["MessageRetentionPeriod"] > main


def _alarm_on(template: dict[str, Any], metric: str, queue: str) -> dict[str, Any]:
    found = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == metric
        and a["Properties"]["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]
    assert len(found) == 1, f"expected one {metric} alarm on {queue}"
    alarm = dict(found[0])
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    return alarm


def test_a_single_dead_letter_message_raises_the_alarm(template: dict[str, Any]) -> None:
    alarm = _alarm_on(template, "ApproximateNumberOfMessagesVisible", "ScanDeadLetterQueue")
    assert alarm["Threshold"] == 1
    assert alarm["Statistic"] == "Maximum"


def test_an_old_scan_message_raises_the_alarm(template: dict[str, Any]) -> None:
    alarm = _alarm_on(template, "ApproximateAgeOfOldestMessage", "ScanQueue")
    assert alarm["Threshold"] == {"Ref": "OldestMessageAlarmSeconds"}


# --- scanner -------------------------------------------------------------------------------------


def _queue_event(template: dict[str, Any]) -> dict[str, Any]:
    events = [e for e in _function(template, "ScannerFunction")["Events"].values() if e["Type"] == "SQS"]
    assert len(events) == 1
    return dict(events[0]["Properties"])


def test_scanner_reports_partial_batch_failures(template: dict[str, Any]) -> None:
    event = _queue_event(template)
    assert event["Queue"] == {"Fn::GetAtt": ["ScanQueue", "Arn"]}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_scanner_takes_one_object_per_invocation(template: dict[str, Any]) -> None:
    assert _queue_event(template)["BatchSize"] == 1


def test_visibility_timeout_is_at_least_six_times_the_scanner_timeout(template: dict[str, Any]) -> None:
    timeout = _function(template, "ScannerFunction")["Timeout"]
    assert properties(template, "ScanQueue")["VisibilityTimeout"] >= 6 * timeout


def test_scanner_is_an_image_sized_for_large_files(template: dict[str, Any]) -> None:
    scanner = template["Resources"]["ScannerFunction"]
    function = scanner["Properties"]
    assert function["PackageType"] == "Image"
    assert scanner["Metadata"]["Dockerfile"] == "scanner/Dockerfile"
    assert function["ImageConfig"]["Command"] == ["scanner.handler.lambda_handler"]
    assert function["Timeout"] == 900
    assert function["MemorySize"] == {"Ref": "ScannerMemorySize"}
    assert function["EphemeralStorage"] == {"Size": {"Ref": "ScannerEphemeralStorageSize"}}
    # clamd holds the full database (~1.5 GB) and spools up to 2000 MiB per stream to /tmp.
    assert parameter_default(template, "ScannerMemorySize") >= 3008
    assert parameter_default(template, "ScannerEphemeralStorageSize") >= 4096


def _rate_seconds(expression: str) -> int:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    assert match, f"{expression!r} is not a rate() expression"
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


def test_signatures_are_refreshed_on_a_schedule_into_the_private_mirror(template: dict[str, Any]) -> None:
    updater = _function(template, "SignatureUpdaterFunction")
    assert updater["ImageConfig"]["Command"] == ["scanner.signature_updater.lambda_handler"]
    (event,) = updater["Events"].values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == {"Ref": "SignatureUpdateSchedule"}
    # ClamAV's CDN rate-limits anyone checking more than once an hour; a day is too stale.
    assert 3600 <= _rate_seconds(parameter_default(template, "SignatureUpdateSchedule")) <= 12 * 3600
    mirror = "s3://${SignatureMirrorBucket}/clamav/"
    assert json.loads(render(event["Properties"]["Input"])) == {"mirror_url": mirror}
    assert render(_environment(template, "ScannerFunction")["CLAMAV_MIRROR_URL"]) == mirror


def test_an_updater_failure_raises_an_alarm(template: dict[str, Any]) -> None:
    alarms = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Dimensions"]
        == [{"Name": "FunctionName", "Value": {"Ref": "SignatureUpdaterFunction"}}]
    ]
    assert [(a["Namespace"], a["MetricName"]) for a in alarms] == [("AWS/Lambda", "Errors")]


# --- API -----------------------------------------------------------------------------------------


def _get_file_method(template: dict[str, Any]) -> dict[str, Any]:
    """The GET method on /files/{id}, found through the resource tree."""
    api_resources = resources(template, "AWS::ApiGateway::Resource")
    files = [
        name
        for name, r in api_resources.items()
        if r["Properties"]["PathPart"] == "files"
        and r["Properties"]["ParentId"] == {"Fn::GetAtt": ["FilesApi", "RootResourceId"]}
    ]
    file_id = [
        name
        for name, r in api_resources.items()
        if r["Properties"]["PathPart"] == "{id}" and r["Properties"]["ParentId"] == {"Ref": files[0]}
    ]
    methods = [
        m["Properties"]
        for m in resources(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["ResourceId"] == {"Ref": file_id[0]} and m["Properties"]["HttpMethod"] == "GET"
    ]
    assert len(methods) == 1
    return dict(methods[0])


def test_get_file_by_id_requires_the_request_authorizer(template: dict[str, Any]) -> None:
    method = _get_file_method(template)
    assert method["AuthorizationType"] == "CUSTOM"
    authorizer_name = method["AuthorizerId"]["Ref"]
    authorizer = properties(template, authorizer_name)
    assert template["Resources"][authorizer_name]["Type"] == "AWS::ApiGateway::Authorizer"
    assert authorizer["Type"] == "REQUEST"
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    assert "${AuthorizerFunction.Arn}" in render(authorizer["AuthorizerUri"])
    ttl = authorizer["AuthorizerResultTtlInSeconds"]
    assert ttl == {"Ref": "AuthorizerTtlSeconds"}
    assert template["Parameters"]["AuthorizerTtlSeconds"]["MaxValue"] <= 300
    assert _function(template, "AuthorizerFunction")["ImageConfig"]["Command"] == [
        "authorizer.handler.lambda_handler"
    ]


def test_api_gateway_may_invoke_the_authorizer(template: dict[str, Any]) -> None:
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
    ]
    assert len(permissions) == 1
    assert permissions[0]["Principal"] == "apigateway.amazonaws.com"
    assert render(permissions[0]["SourceArn"]).endswith("${FilesApi}/authorizers/${FilesAuthorizer}")


def test_get_file_proxies_to_the_app_api(template: dict[str, Any]) -> None:
    integration = _get_file_method(template)["Integration"]
    assert integration["Type"] == "HTTP_PROXY"
    assert integration["IntegrationHttpMethod"] == "GET"
    assert integration["Uri"] == "https://${stageVariables.appHost}/api/files/{id}"
    assert integration["RequestParameters"] == {"integration.request.path.id": "method.request.path.id"}
    stage = properties(template, "ApiStage")
    assert stage["Variables"]["appHost"] == {
        "Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "PublicBaseUrl"}]}]
    }


def test_a_cached_authorizer_answer_covers_every_file(template: dict[str, Any]) -> None:
    # API Gateway reuses a cached answer for any file id: it must not be scoped to the first route.
    env = _environment(template, "AuthorizerFunction")
    assert env["AUTHORIZER_POLICY_SCOPE"] == {"Fn::If": ["ApiCachesAuthorizer", "api", "route"]}
    assert template["Conditions"]["ApiCachesAuthorizer"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AuthorizerTtlSeconds"}, 0]}]
    }
    assert env["AUTHORIZER_CACHE_SECONDS"] == {"Ref": "AuthorizerTtlSeconds"}


# --- IAM -----------------------------------------------------------------------------------------


def _web_app_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(statements(properties(template, "WebAppPolicy")["PolicyDocument"]))


def test_web_app_policy_has_no_wildcard_actions_or_resources(template: dict[str, Any]) -> None:
    for statement in _web_app_statements(template):
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in actions(statement)), statement
        assert "*" not in targets(statement)


def test_web_app_cannot_change_scan_tags(template: dict[str, Any]) -> None:
    forbidden = {"s3:PutObjectVersionTagging", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"}
    for statement in _web_app_statements(template):
        assert not actions(statement) & forbidden
        if "s3:PutObjectTagging" in actions(statement):
            # Only the tag an upload is born with (S3 checks PutObject's x-amz-tagging as PutObjectTagging).
            assert actions(statement) == {"s3:PutObjectTagging"}
            assert statement["Condition"] == {"StringEquals": {"s3:RequestObjectTag/scan-status": "pending"}}


def test_web_app_uploads_under_the_incoming_prefix_and_only_reads_served_files(
    template: dict[str, Any],
) -> None:
    granted: dict[str, set[str]] = {}
    for statement in _web_app_statements(template):
        for action in actions(statement):
            granted.setdefault(action, set()).update(targets(statement))
    object_level = {a: t for a, t in granted.items() if a.startswith("s3:") and a not in BUCKET_LEVEL}
    assert object_level, "the web app must be able to upload"
    served_reads = {"s3:GetObject", "s3:GetObjectTagging", "s3:GetObjectAttributes"}
    for action, where in object_level.items():
        served = {SERVED} if action in served_reads else set()
        assert where == {"${EvidenceBucket.Arn}/${IncomingPrefix}*", *served}, action
    needed = {
        "s3:PutObject",
        "s3:GetObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:GetObjectTagging",
        "s3:ListBucketMultipartUploads",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
    }
    assert needed <= set(granted)
    assert {a for a in granted if a.startswith("sqs:")} == {"sqs:SendMessage", "sqs:GetQueueAttributes"}
    assert granted["sqs:SendMessage"] == {"${ScanQueue.Arn}"}
    assert granted["s3:ListBucketMultipartUploads"] == {BUCKET_ARN}


def test_web_app_user_holds_only_the_web_app_policy(template: dict[str, Any]) -> None:
    user = template["Resources"]["WebAppUser"]
    assert user["Properties"] == {"ManagedPolicyArns": [{"Ref": "WebAppPolicy"}]}


def _role_grants(template: dict[str, Any], role: str) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for policy in properties(template, role)["Policies"]:
        for statement in statements(policy["PolicyDocument"]):
            assert statement["Effect"] == "Allow"
            for action in actions(statement):
                assert "*" not in action, action
                granted.setdefault(action, set()).update(targets(statement))
    return granted


def test_scanner_role_can_read_tag_and_quarantine(template: dict[str, Any]) -> None:
    granted = _role_grants(template, "ScannerRole")
    incoming = "arn:${AWS::Partition}:s3:::${BucketName}/${IncomingPrefix}*"
    quarantine = "arn:${AWS::Partition}:s3:::${BucketName}/${QuarantinePrefix}*"
    served = "arn:${AWS::Partition}:s3:::${BucketName}/${CleanPrefix}*"
    for action in ("s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObject"):
        assert {incoming, served} <= granted[action], action
    # Copies only: clean ones to the served prefix, infected ones to quarantine; never an upload.
    assert granted["s3:PutObject"] == {quarantine, served}
    assert granted["s3:AbortMultipartUpload"] == {quarantine, served}  # a failed multipart copy (over 5 GiB)
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        assert granted[action] == {"${ScanQueue.Arn}"}
    assert "${SignatureMirrorBucket.Arn}/clamav/*" in granted["s3:GetObject"]
    assert _function(template, "ScannerFunction")["Role"] == SCANNER_ROLE


# --- Ferry's settings in the Lambdas ---------------------------------------------------------------


@pytest.mark.parametrize("function", sorted(LAMBDAS))
def test_lambda_gets_every_setting_its_entry_point_requires(template: dict[str, Any], function: str) -> None:
    env = _environment(template, function)
    assert env["FERRY_ENV"] == "production"
    assert required_in_production(LAMBDAS[function]) <= set(env)


def test_the_scanner_gets_its_database_and_writes_only_under_tmp(template: dict[str, Any]) -> None:
    env = _environment(template, "ScannerFunction")
    assert "DATABASE_URL" in env
    assert env["CLAMD_ADDRESS"].startswith("/tmp/")  # the only writable place in Lambda
    assert env["FERRY_INSTANCE_PATH"].startswith("/tmp/")


@pytest.mark.parametrize("function", sorted(LAMBDAS))
def test_lambda_gets_only_variables_its_entry_point_reads(template: dict[str, Any], function: str) -> None:
    unread = set(_environment(template, function)) - variables_read(LAMBDAS[function])
    assert unread == set(), "a misspelt variable would silently fall back to its default; others are unused"


def test_the_authorizer_gets_no_secret_database_bucket_or_queue(template: dict[str, Any]) -> None:
    secrets = {"SECRET_KEY"} | {n for n in variables_read() if n.endswith("_SECRET")}
    given = set(_environment(template, "AuthorizerFunction"))
    assert given & (secrets | {"DATABASE_URL", "S3_BUCKET", "SQS_QUEUE_URL"}) == set()


def test_secret_parameters_are_not_echoed(template: dict[str, Any]) -> None:
    secrets = {"SECRET_KEY", "DATABASE_URL"} | {n for n in variables_read() if n.endswith("_SECRET")}
    for function in LAMBDAS:
        for name, value in _environment(template, function).items():
            if name in secrets:
                parameter = value["Ref"]
                assert template["Parameters"][parameter].get("NoEcho") is True, parameter


def test_outputs_give_what_heroku_needs(template: dict[str, Any]) -> None:
    outputs = {name: render(o["Value"]) for name, o in template["Outputs"].items()}
    assert outputs["EvidenceBucketName"] == "${EvidenceBucket}"
    assert outputs["ScanQueueUrl"] == "${ScanQueue}"
    assert outputs["WebAppPolicyArn"] == "${WebAppPolicy}"
    assert outputs["ApiUrl"].startswith("https://${FilesApi}.execute-api.")
