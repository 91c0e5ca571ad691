"""The Terraform module, deployed for real into the AWS emulator.

Every test here runs Terraform itself against moto in server mode (emulator.py): the
module and both examples are formatted and valid, checkov finds no failed check, the
single-region example applies, and what it created is read back through the AWS API.

Run by infra/test.sh after the release zips are built. Needs terraform on PATH, the AWS
provider in the filesystem mirror (LIFEBOAT_TF_MIRROR, default /opt/tf-plugins) and
checkov (LIFEBOAT_CHECKOV). Run alone with:
    python3 -m unittest discover -s tests/terraform -v
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import boto3
import yaml

import emulator
import policy
from policy import Request, allowed, kms_allowed

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "terraform"
REGION = "us-east-1"
SECONDARY = "eu-west-1"
ACCOUNT = "123456789012"
ZIPS = {
    "backup": Path(os.environ.get("LIFEBOAT_BACKUP_ZIP", ROOT / "target/lambda/backup/bootstrap.zip")),
    "restore": Path(os.environ.get("LIFEBOAT_RESTORE_ZIP", ROOT / "target/lambda/restore/bootstrap.zip")),
    "catalog": Path(os.environ.get("LIFEBOAT_CATALOG_ZIP", ROOT / "target/lambda/catalog/bootstrap.zip")),
    "retention": Path(os.environ.get("LIFEBOAT_RETENTION_ZIP", ROOT / "target/lambda/retention/bootstrap.zip")),
    "drill": Path(os.environ.get("LIFEBOAT_DRILL_ZIP", ROOT / "target/lambda/drill/bootstrap.zip")),
}
SERVICES = [
    "cloudtrail", "cloudwatch", "cloudwatchlogs", "eks", "events", "iam", "kms", "lambda",
    "s3", "scheduler", "sns", "sqs", "sts",
]
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
# The one principal the deployed example lets invoke restore.
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/lifeboat-operators"
# An infrastructure whose cluster is in another account, reached through two roles there.
REMOTE = {"cluster_name": "far-eks",
          "backup_role_arn": "arn:aws:iam::210987654321:role/lifeboat-backup-reader",
          "backup_external_id": "fleet-7-backup",
          "restore_role_arn": "arn:aws:iam::210987654321:role/lifeboat-restore-writer",
          "restore_external_id": "fleet-7-restore",
          "settings": {"IsEnabled": True, "IntervalInHours": "1", "K8sResourceKinds": ["Secret"]}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_config(directory: Path) -> Path:
    """Terraform finds the AWS provider in the local mirror and nowhere else."""
    mirror = os.environ.get("LIFEBOAT_TF_MIRROR", "/opt/tf-plugins")
    path = directory / "terraformrc"
    path.write_text(
        'provider_installation {\n'
        f'  filesystem_mirror {{\n    path = "{mirror}"\n    include = ["registry.terraform.io/hashicorp/*"]\n  }}\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n'
    )
    return path


class Terraform:
    """Terraform in a copy of terraform/, so nothing it writes lands in the repository."""

    def __init__(self, example: str, endpoint: str | None = None):
        self.tmp = Path(tempfile.mkdtemp(prefix="lifeboat-tf-"))
        shutil.copytree(MODULE, self.tmp / "terraform", ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
        self.dir = self.tmp / "terraform" / example
        self.env = dict(os.environ, TF_CLI_CONFIG_FILE=str(cli_config(self.tmp)), TF_IN_AUTOMATION="1",
                        TF_INPUT="0", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        self.env.pop("AWS_ENDPOINT_URL", None)
        if endpoint:
            self.point_providers_at(endpoint)

    def point_providers_at(self, endpoint: str):
        """An override file sends every provider of the configuration to the emulator."""
        endpoints = "\n".join(f'    {s} = "{endpoint}"' for s in SERVICES)
        body = (
            '  skip_credentials_validation = true\n  skip_metadata_api_check = true\n'
            f'  s3_use_path_style = true\n  endpoints {{\n{endpoints}\n  }}\n'
        )
        aliases = [None] + (["secondary"] if "multi-region" in str(self.dir) else [])
        blocks = [f'provider "aws" {{\n' + (f'  alias = "{a}"\n' if a else "") + body + "}\n" for a in aliases]
        (self.dir / "emulator_override.tf").write_text("\n".join(blocks))

    def run(self, *args, check=True) -> subprocess.CompletedProcess:
        done = subprocess.run(["terraform", *args, "-no-color"], cwd=self.dir, env=self.env,
                              capture_output=True, text=True, timeout=900)
        if check and done.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        return done

    def tfvars(self, values: dict) -> str:
        path = self.dir / "test.tfvars.json"
        path.write_text(json.dumps(values))
        return f"-var-file={path}"

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def zips_or_fail():
    missing = [str(p) for p in ZIPS.values() if not p.is_file()]
    if missing:
        raise AssertionError(f"the function zips are missing ({', '.join(missing)}); build them with "
                             "`cargo lambda build --release --output-format zip` (infra/test.sh does)")


def infrastructures(**overrides):
    value = {
        "prod": {"cluster_name": "prod-eks", "tenants": ["duploservices-billing"], "drill": {"cluster_name": "drills-eks"},
                 "settings": {"IsEnabled": True, "IntervalInHours": "1", "K8sResourceKinds": ["Secret", "ConfigMap"]}},
        "staging": {"cluster_name": "staging-eks", "tenant_selector": "env=staging", "exclude_tenants": ["scratch"],
                    "exclude_kinds": ["ConfigMap"],
                    "settings": {"IsEnabled": True, "IntervalInHours": 6, "K8sResourceKinds": ["Secret", "ConfigMap"]}},
        "dev": {"cluster_name": "dev-eks",
                "settings": {"IsEnabled": False, "IntervalInHours": "1", "K8sResourceKinds": ["ConfigMap"]}},
    }
    value.update(overrides)
    return {k: v for k, v in value.items() if v is not None}


def example_vars(**overrides):
    values = {
        "region": REGION,
        "infrastructures": infrastructures(),
        "backup_function_zip": str(ZIPS["backup"]),
        "restore_function_zip": str(ZIPS["restore"]),
        "catalog_function_zip": str(ZIPS["catalog"]),
        "retention_function_zip": str(ZIPS["retention"]),
        "drill_function_zip": str(ZIPS["drill"]),
        # What this machine can build; arm64 stays the module's default.
        "architecture": "x86_64",
        # The emulator serves no EKS access entries; the plan test below covers them.
        "manage_eks_access": False,
    }
    values.update(overrides)
    return values


class Emulated(unittest.TestCase):
    """Starts an emulator of its own for the class."""

    @classmethod
    def setUpClass(cls):
        zips_or_fail()
        port = free_port()
        cls.server = emulator.start(port)
        cls.endpoint = f"http://127.0.0.1:{port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    @classmethod
    def aws(cls, service, region=REGION):
        return boto3.client(service, region_name=region, endpoint_url=cls.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")


class TheConfigurationIsClean(unittest.TestCase):
    def test_the_module_and_examples_are_formatted(self):
        done = subprocess.run(["terraform", "fmt", "-check", "-recursive", "-diff", "-no-color"], cwd=MODULE,
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, f"run `terraform fmt -recursive terraform/`:\n{done.stdout}")

    def test_the_module_its_submodules_and_examples_validate(self):
        for directory in [".", "modules/storage", "modules/trail", "modules/hardened-bucket", "modules/kubernetes-rbac",
                          "examples/single-region", "examples/multi-region"]:
            with self.subTest(directory=directory):
                tf = Terraform(directory)
                try:
                    tf.run("init", "-backend=false")
                    self.assertIn("The configuration is valid", tf.run("validate").stdout)
                finally:
                    tf.close()

    def test_the_module_readme_tables_are_the_ones_its_code_generates(self):
        done = subprocess.run([sys.executable, str(ROOT / "infra/terraform_docs.py"), str(MODULE)],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        readme = (MODULE / "README.md").read_text()
        for kind, path in [("variable", "variables.tf"), ("output", "outputs.tf")]:
            names = re.findall(rf'^{kind} "([^"]+)"', (MODULE / path).read_text(), re.M)
            self.assertGreater(len(names), 5)
            for name in names:
                self.assertIn(f"| `{name}` |", readme, f"the generated table lacks the {kind} {name}")

    def test_checkov_finds_no_failed_check(self):
        checkov = os.environ.get("LIFEBOAT_CHECKOV", "checkov")
        done = subprocess.run([checkov, "--directory", str(MODULE), "--framework", "terraform", "--compact",
                               "--skip-download", "--output", "json"],
                              capture_output=True, text=True, timeout=900)
        reports = json.loads(done.stdout) if done.stdout.strip() else []
        reports = reports if isinstance(reports, list) else [reports]
        failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]})"
                  for r in reports for c in r.get("results", {}).get("failed_checks", [])]
        self.assertEqual(done.returncode, 0 if not failed else done.returncode, done.stderr[-2000:])
        self.assertEqual(failed, [], "checkov failed checks; fix them or skip inline with the reason")
        passed = sum(len(r.get("results", {}).get("passed_checks", [])) for r in reports)
        self.assertGreater(passed, 50, "checkov ran too few checks to have read the module")


class IntervalRulesAreCheckedByTerraform(Emulated):
    """The same rules as the functions apply, refused at plan time."""

    def test_every_bad_interval_and_kind_list_is_refused_with_the_rule(self):
        tf = Terraform("examples/single-region", self.endpoint)
        try:
            tf.run("init")
            cases = {
                '"1.5"': ("1.5", ["Secret"]), "1.5": (1.5, ["Secret"]), "0": (0, ["Secret"]),
                "-1": (-1, ["Secret"]), '""': ("", ["Secret"]), '"abc"': ("abc", ["Secret"]),
                "no kinds": ("1", []), "lowercase kind": ("1", ["secret"]),
            }
            for label, (interval, kinds) in cases.items():
                with self.subTest(case=label):
                    bad = {"cluster_name": "x", "settings": {"IsEnabled": True, "IntervalInHours": interval,
                                                             "K8sResourceKinds": kinds}}
                    done = tf.run("plan", tf.tfvars(example_vars(infrastructures={"bad": bad})), check=False)
                    self.assertNotEqual(done.returncode, 0, f"{label} was accepted")
                    field = "IntervalInHours" if kinds and kinds != ["secret"] else "K8sResourceKinds"
                    self.assertIn(f"{field} must be", " ".join(done.stderr.split()))
            good = {"cluster_name": "x", "settings": {"IsEnabled": True, "IntervalInHours": 12,
                                                      "K8sResourceKinds": ["Secret"]}}
            tf.run("plan", tf.tfvars(example_vars(infrastructures={"good": good})))
            for window in [-1, 1441, 2.5]:
                with self.subTest(schedule_window_minutes=window):
                    done = tf.run("plan", tf.tfvars(example_vars(infrastructures={"good": good},
                                                                 schedule_window_minutes=window)), check=False)
                    self.assertNotEqual(done.returncode, 0, f"a window of {window} was accepted")
                    self.assertIn("schedule_window_minutes must be", " ".join(done.stderr.split()))
        finally:
            tf.close()


class PlansCoverWhatTheEmulatorCannotServe(Emulated):
    def plan(self, example, values):
        tf = Terraform(example, self.endpoint)
        try:
            tf.run("init")
            tf.run("plan", "-out=plan.out", tf.tfvars(values))
            return json.loads(tf.run("show", "-json", "plan.out").stdout)
        finally:
            tf.close()

    def refused(self, values) -> str:
        """The single-region example's plan of `values`, which must fail: its error, on one line."""
        tf = Terraform("examples/single-region", self.endpoint)
        try:
            tf.run("init")
            done = tf.run("plan", tf.tfvars(values), check=False)
            self.assertNotEqual(done.returncode, 0, "the plan was accepted")
            return " ".join(done.stderr.split())
        finally:
            tf.close()

    def test_each_cluster_maps_the_roles_to_groups_whose_rbac_is_rendered_from_the_setting_with_no_eks_policy(self):
        plan = self.plan("examples/single-region", example_vars(manage_eks_access=True))
        changes = [c for c in plan["resource_changes"] if c["type"].startswith("aws_eks_access")]
        self.assertEqual({c["type"] for c in changes}, {"aws_eks_access_entry"},
                         "a cluster-wide EKS access policy would grant more than the setting's kinds")
        groups = {(c["index"], c["change"]["after"]["cluster_name"]): c["change"]["after"]["kubernetes_groups"]
                  for c in changes}
        expected = {}
        for infra in ["prod", "staging", "dev"]:
            expected[(f"{infra}/backup", f"{infra}-eks")] = ["lifeboat:backup"]
            expected[(f"{infra}/restore", f"{infra}-eks")] = ["lifeboat:restore"]
            # The catalog reads what the backup reads, and writes nothing.
            expected[(f"{infra}/catalog", f"{infra}-eks")] = ["lifeboat:backup"]
        # The drill role, on the drill cluster only.
        expected[("drills-eks", "drills-eks")] = ["lifeboat:drill"]
        self.assertEqual(groups, expected)
        rbac = plan["planned_values"]["outputs"]["kubernetes_rbac"]["value"]
        staging = rbac["staging"]
        self.assertIn('"secrets"', staging)
        self.assertNotIn('"configmaps"', staging, "staging excludes ConfigMaps from its setting")
        self.assertNotIn('"*"', "".join(rbac.values()), "a wildcard in the rendered RBAC")

    def test_the_local_stacks_rbac_is_what_the_module_renders_for_its_setting(self):
        local = {"cluster_name": "lifeboat-local", "drill": {"cluster_name": "lifeboat-local"},
                 "settings": {"IsEnabled": True, "IntervalInHours": "1", "K8sResourceKinds": ["Secret", "ConfigMap"]}}
        plan = self.plan("examples/single-region", example_vars(infrastructures={"local": local}))
        outputs = plan["planned_values"]["outputs"]
        for path, rendered in [("infra/rbac.yaml", outputs["kubernetes_rbac"]["value"]["local"]),
                               ("infra/drill-rbac.yaml", outputs["drill_kubernetes_rbac"]["value"]["lifeboat-local"])]:
            committed = "".join(line for line in (ROOT / path).read_text().splitlines(keepends=True)
                                if not line.startswith("#"))
            self.assertEqual(committed.strip(), rendered.strip(),
                             f"{path} drifted from the module: write the output rendered for this setting there")

    def test_a_setting_may_name_rbac_and_custom_kinds_and_restore_may_then_bind_and_escalate(self):
        infra = {"cluster_name": "c", "settings": {"IsEnabled": True, "IntervalInHours": "1",
                                                   "K8sResourceKinds": ["Role", "Ingress.networking.k8s.io", "Widget"]}}
        custom = {"Widget": {"group": "example.com", "resource": "widgets", "namespaced": True}}
        plan = self.plan("examples/single-region", example_vars(infrastructures={"apps": infra}, custom_kinds=custom))
        rendered = plan["planned_values"]["outputs"]["kubernetes_rbac"]["value"]["apps"]
        for expected in ['"widgets"', '"example.com"', '"ingresses"', '"roles"', '"bind"', '"escalate"']:
            self.assertIn(expected, rendered)
        unknown = {"cluster_name": "c", "settings": {"IsEnabled": True, "IntervalInHours": "1",
                                                     "K8sResourceKinds": ["Gadget"]}}
        self.assertIn("add it to custom_kinds", self.refused(example_vars(infrastructures={"apps": unknown})))

    def test_a_drill_cluster_gets_the_drill_group_with_create_and_namespace_delete_only(self):
        infra = {"cluster_name": "prod-eks", "drill": {"cluster_name": "drills-eks", "every_days": 3, "tenants": ["shop"]},
                 "settings": {"IsEnabled": True, "IntervalInHours": "1",
                              "K8sResourceKinds": ["Secret", "Role", "ClusterRole", "Deployment"]}}
        plan = self.plan("examples/single-region", example_vars(infrastructures={"prod": infra}, manage_eks_access=True))
        entries = {c["index"]: c["change"]["after"] for c in plan["resource_changes"]
                   if c["type"] == "aws_eks_access_entry"}
        self.assertEqual(entries["drills-eks"]["kubernetes_groups"], ["lifeboat:drill"])
        self.assertNotIn("drills-eks", {e["cluster_name"] for k, e in entries.items() if k != "drills-eks"},
                         "only the drill role is mapped on the drill cluster")
        documents = list(yaml.safe_load_all(plan["planned_values"]["outputs"]["drill_kubernetes_rbac"]["value"]["drills-eks"]))
        role = next(d for d in documents if d["kind"] == "ClusterRole")
        rules = [(r["apiGroups"], r["resources"], r["verbs"]) for r in role["rules"]]
        # Cluster-scoped kinds (ClusterRole) are never drilled; binding Roles needs bind and escalate.
        self.assertEqual(rules, [
            ([""], ["namespaces"], ["get", "create", "delete"]),
            ([""], ["secrets"], ["get", "create"]),
            (["apps"], ["deployments"], ["get", "create"]),
            (["rbac.authorization.k8s.io"], ["roles"], ["get", "create"]),
            (["rbac.authorization.k8s.io"], ["roles"], ["bind", "escalate"]),
        ])
        binding = next(d for d in documents if d["kind"] == "ClusterRoleBinding")
        self.assertEqual(binding["subjects"][0]["name"], "lifeboat:drill")
        alarm = next(c["change"]["after"] for c in plan["resource_changes"]
                     if c["type"] == "aws_cloudwatch_metric_alarm" and c["address"].endswith('no_passed_drill["prod"]'))
        self.assertEqual(alarm["threshold"], 2 * 3 * 24, "twice a 3-day interval")
        for bad, words in [({"cluster_name": "drills-eks", "every_days": 0}, "drill.every_days must be"),
                           ({"cluster_name": "drills-eks", "every_days": 1.5}, "drill.every_days must be"),
                           ({"cluster_name": "no such/cluster"}, "drill.cluster_name must be"),
                           ({"cluster_name": "d", "tenants": ["Shop"]}, "drill.tenants must be")]:
            with self.subTest(drill=bad):
                self.assertIn(words, self.refused(example_vars(infrastructures={"prod": dict(infra, drill=bad)})))

    def test_a_cluster_in_another_account_gets_no_access_entry_here_and_its_roles_must_differ(self):
        plan = self.plan("examples/single-region", example_vars(infrastructures={"far": REMOTE}, manage_eks_access=True))
        self.assertFalse([c for c in plan["resource_changes"] if c["type"] == "aws_eks_access_entry"],
                         "a cluster of another account is mapped there, not here")
        same = dict(REMOTE, restore_role_arn=REMOTE["backup_role_arn"])
        self.assertIn("must differ", self.refused(example_vars(infrastructures={"far": same})))

    def test_both_functions_send_failed_invocations_to_the_dead_letter_queue(self):
        # moto keeps no DeadLetterConfig on a function, so the plan's configuration shows it.
        plan = self.plan("examples/single-region", example_vars())
        module = plan["configuration"]["root_module"]["module_calls"]["lifeboat"]["module"]
        function = next(r for r in module["resources"] if r["address"] == "aws_lambda_function.this")
        target = function["expressions"]["dead_letter_config"][0]["target_arn"]["references"]
        self.assertIn("aws_sqs_queue.dead_letter.arn", target)
        created = [c["index"] for c in plan["resource_changes"] if c["type"] == "aws_lambda_function"]
        self.assertEqual(sorted(created), ["backup", "catalog", "drill", "restore", "retention"])

    def test_the_multi_region_example_has_a_bucket_and_functions_per_region_and_one_trail(self):
        per_region = {"cluster_name": "c", "settings": {"IsEnabled": True, "IntervalInHours": "2",
                                                        "K8sResourceKinds": ["Secret"]}}
        plan = self.plan("examples/multi-region", {
            "primary_infrastructures": {"us": per_region}, "secondary_infrastructures": {"eu": per_region},
            "backup_function_zip": str(ZIPS["backup"]), "restore_function_zip": str(ZIPS["restore"]),
            "catalog_function_zip": str(ZIPS["catalog"]), "retention_function_zip": str(ZIPS["retention"]),
            "drill_function_zip": str(ZIPS["drill"]), "architecture": "x86_64", "manage_eks_access": False,
        })
        kinds = {}
        for change in plan["resource_changes"]:
            kinds.setdefault(change["type"], []).append(change["address"])
        self.assertEqual(len(kinds["aws_cloudtrail"]), 1)
        buckets = [a for a in kinds["aws_s3_bucket"] if "module.storage" in a]
        self.assertEqual(len(buckets), 2)
        self.assertEqual(len(kinds["aws_lambda_function"]), 10)
        # A backup schedule per infrastructure and a retention schedule per region.
        self.assertEqual(len(kinds["aws_scheduler_schedule"]), 4)
        trail = next(c["change"]["after"] for c in plan["resource_changes"] if c["type"] == "aws_cloudtrail")
        self.assertTrue(trail["is_multi_region_trail"])
        self.assertTrue(trail["enable_log_file_validation"])
        names = [c["change"]["after"]["function_name"] for c in plan["resource_changes"]
                 if c["type"] == "aws_lambda_function"]
        functions = ["lifeboat-backup", "lifeboat-catalog", "lifeboat-drill", "lifeboat-restore", "lifeboat-retention"]
        self.assertEqual(sorted(names), sorted(functions * 2))


class TheSingleRegionExampleDeploys(Emulated):
    """One apply; every test reads back a part of what it created."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tf = Terraform("examples/single-region", cls.endpoint)
        cls.tf.run("init")
        cls.tf.run("apply", "-auto-approve", cls.tf.tfvars(example_vars(restore_invoker_arns=[OPERATOR])))
        cls.outputs = {k: v["value"] for k, v in json.loads(cls.tf.run("output", "-json").stdout).items()}
        cls.bucket = cls.outputs["bucket_name"]

    @classmethod
    def tearDownClass(cls):
        cls.tf.close()
        super().tearDownClass()

    def function(self, name):
        return self.aws("lambda").get_function(FunctionName=f"lifeboat-{name}")

    def role_policy(self, role):
        iam = self.aws("iam")
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        self.assertEqual(iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"], [])
        statements = []
        for name in names:
            doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            doc = json.loads(doc) if isinstance(doc, str) else doc
            statements += doc["Statement"]
        return statements

    def grants(self, statements, action):
        """Resources a policy allows `action` on."""
        found = []
        for s in statements:
            if s["Effect"] == "Allow" and action in policy.actions(s):
                found += policy.resources(s)
        return sorted(found)

    def test_the_bucket_is_named_for_account_and_region_and_encrypted_with_a_rotating_key(self):
        self.assertEqual(self.bucket, f"lifeboat-backups-{ACCOUNT}-{REGION}")
        s3, kms = self.aws("s3"), self.aws("kms")
        rule = s3.get_bucket_encryption(Bucket=self.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "aws:kms")
        key = rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
        self.assertTrue(rule["BucketKeyEnabled"])
        metadata = kms.describe_key(KeyId=key)["KeyMetadata"]
        self.assertEqual(metadata["KeyManager"], "CUSTOMER")
        self.assertTrue(kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"])

    def test_the_bucket_is_versioned_private_and_expires_only_noncurrent_versions_itself(self):
        s3 = self.aws("s3")
        self.assertEqual(s3.get_bucket_versioning(Bucket=self.bucket)["Status"], "Enabled")
        block = s3.get_public_access_block(Bucket=self.bucket)["PublicAccessBlockConfiguration"]
        self.assertEqual(set(block.values()), {True})
        self.assertEqual(len(block), 4)
        rules = s3.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        self.assertEqual(len(rules), 1)
        # The retention function expires runs: a rule would expire the last good backups.
        self.assertNotIn("Days", rules[0].get("Expiration", {}))
        self.assertEqual(rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"], 30)

    def test_the_bucket_policy_denies_plain_http_and_unencrypted_writes(self):
        policy = json.loads(self.aws("s3").get_bucket_policy(Bucket=self.bucket)["Policy"])
        by_sid = {s["Sid"]: s for s in policy["Statement"]}
        insecure = by_sid["DenyInsecureTransport"]
        self.assertEqual((insecure["Effect"], insecure["Condition"]), ("Deny", {"Bool": {"aws:SecureTransport": "false"}}))
        unencrypted = by_sid["DenyWritesWithoutKmsEncryption"]
        self.assertEqual(unencrypted["Effect"], "Deny")
        self.assertEqual(unencrypted["Condition"], {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}})

    def test_every_function_runs_the_cargo_lambda_zip_on_provided_al2023(self):
        for name in ["backup", "restore", "catalog", "retention", "drill"]:
            with self.subTest(function=name):
                config = self.function(name)["Configuration"]
                self.assertEqual((config["Runtime"], config["Handler"]), ("provided.al2023", "bootstrap"))
                self.assertEqual(config["Architectures"], ["x86_64"])
                self.assertEqual(config["MemorySize"], 256 if name == "retention" else 512)
                self.assertEqual(config["Timeout"], 900 if name in ["restore", "retention", "drill"] else 300)
                env = config["Environment"]["Variables"]
                self.assertEqual(env["LIFEBOAT_BUCKET"], self.bucket)
                self.assertEqual(env["LIFEBOAT_TRAIL_ARN"], f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/lifeboat-audit")
                self.assertEqual(env["LIFEBOAT_AUDIT_REQUIRED"], "true")
                self.assertTrue(env["LIFEBOAT_KMS_KEY_ID"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"))
                self.assertEqual(env["LIFEBOAT_EVENT_BUS"], "default")
                fingerprints = env.get("LIFEBOAT_FINGERPRINT_KEY_ID", "")
                if name == "catalog":
                    self.assertTrue(fingerprints.startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"), fingerprints)
                else:
                    self.assertEqual(fingerprints, "", "only the catalog fingerprints")

    def test_backup_and_restore_may_publish_their_runs_events_on_the_default_bus_only(self):
        for role in ["backup", "restore", "catalog", "retention", "drill"]:
            with self.subTest(role=role):
                statements = self.role_policy(f"lifeboat-{role}-{REGION}")
                expected = [] if role in ["catalog", "retention", "drill"] else [f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"]
                self.assertEqual(self.grants(statements, "events:PutEvents"), expected)

    def test_the_example_routes_failed_and_partly_failed_runs_to_its_topic(self):
        events = self.aws("events")
        rule = events.describe_rule(Name="lifeboat-failed-runs")
        self.assertEqual(json.loads(rule["EventPattern"]),
                         {"source": ["lifeboat"], "detail": {"status": ["Failed", "PartiallyFailed"]}})
        targets = events.list_targets_by_rule(Rule="lifeboat-failed-runs")["Targets"]
        self.assertEqual([t["Arn"] for t in targets], [self.outputs["failed_runs_topic_arn"]])
        topic = self.aws("sns").get_topic_attributes(TopicArn=self.outputs["failed_runs_topic_arn"])["Attributes"]
        statement = json.loads(topic["Policy"])["Statement"][0]
        self.assertEqual(statement["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(statement["Condition"], {"ArnEquals": {"aws:SourceArn": rule["Arn"]}})

    def test_a_failed_backup_or_retention_is_retried_twice_by_lambda(self):
        for name in ["backup", "retention", "drill"]:
            retries = self.aws("lambda").get_function_event_invoke_config(FunctionName=f"lifeboat-{name}")
            self.assertEqual(retries["MaximumRetryAttempts"], 2, name)
        for name in ["restore", "catalog"]:
            retries = self.aws("lambda").get_function_event_invoke_config(FunctionName=f"lifeboat-{name}")
            self.assertEqual(retries["MaximumRetryAttempts"], 0, name)
        self.aws("sqs").get_queue_url(QueueName="lifeboat-dead-letter")

    def test_each_log_group_keeps_a_year_encrypted_with_the_key(self):
        logs = self.aws("logs")
        for name in ["backup", "restore", "catalog", "retention", "drill"]:
            with self.subTest(function=name):
                group = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/lifeboat-{name}")["logGroups"][0]
                self.assertEqual(group["retentionInDays"], 365)
                self.assertTrue(group["kmsKeyId"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"))

    def test_backup_may_write_backups_but_not_read_list_or_delete_them(self):
        statements = self.role_policy(f"lifeboat-backup-{REGION}")
        bucket_arn = f"arn:aws:s3:::{self.bucket}"
        claims = f"{bucket_arn}/claims/*"
        self.assertEqual(self.grants(statements, "s3:PutObject"), sorted([f"{bucket_arn}/*/infra/*", claims]))
        self.assertEqual(self.grants(statements, "s3:AbortMultipartUpload"), [f"{bucket_arn}/*/infra/*"])
        self.assertEqual(self.grants(statements, "s3:GetObject"), [claims])
        listing = [s for s in statements if "s3:ListBucket" in policy.actions(s)]
        self.assertEqual(len(listing), 1)
        self.assertEqual(listing[0]["Condition"], {"StringLike": {"s3:prefix": "*/infra/*/k8s/manifest.json"}})
        self.assertEqual(self.grants(statements, "s3:DeleteObject"), [])
        self.assertNotIn("kms:Decrypt", [a for s in statements if "Condition" not in s for a in policy.actions(s)])
        self.assertEqual(sorted(self.grants(statements, "eks:DescribeCluster")),
                         sorted(f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{c}" for c in ["prod-eks", "staging-eks", "dev-eks"]))
        trail = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/lifeboat-audit"
        self.assertEqual(self.grants(statements, "cloudtrail:GetTrailStatus"), [trail])
        self.assertEqual(self.grants(statements, "sts:AssumeRole"), [])

    def test_restore_may_read_and_decrypt_backups_and_write_nothing_to_s3(self):
        statements = self.role_policy(f"lifeboat-restore-{REGION}")
        bucket_arn = f"arn:aws:s3:::{self.bucket}"
        self.assertEqual(self.grants(statements, "s3:GetObject"), [f"{bucket_arn}/*/infra/*"])
        self.assertEqual(self.grants(statements, "s3:GetObjectVersion"), [f"{bucket_arn}/*/infra/*"])
        self.assertEqual(self.grants(statements, "s3:ListBucket"), [bucket_arn])
        self.assertEqual(len(self.grants(statements, "kms:Decrypt")), 1)
        s3_actions = {a for s in statements for a in policy.actions(s) if a.startswith("s3:")}
        self.assertEqual(s3_actions, {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions"})
        self.assertEqual(self.grants(statements, "kms:GenerateDataKey"), [])

    def test_the_catalog_reads_backups_and_mints_fingerprints_with_its_own_key_and_writes_nothing(self):
        statements = self.role_policy(f"lifeboat-catalog-{REGION}")
        bucket_arn = f"arn:aws:s3:::{self.bucket}"
        self.assertEqual(self.grants(statements, "s3:GetObject"), [f"{bucket_arn}/*/infra/*"])
        s3_actions = {a for s in statements for a in policy.actions(s) if a.startswith("s3:")}
        self.assertEqual(s3_actions, {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions"})
        kms_actions = {a for s in statements for a in policy.actions(s) if a.startswith("kms:")}
        self.assertEqual(kms_actions, {"kms:Decrypt", "kms:GenerateMac"})
        function = self.function("catalog")["Configuration"]
        key_arn = function["Environment"]["Variables"]["LIFEBOAT_FINGERPRINT_KEY_ID"]
        self.assertEqual(self.grants(statements, "kms:GenerateMac"), [key_arn])
        kms = self.aws("kms")
        spec = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
        self.assertEqual((spec["KeySpec"], spec["KeyUsage"]), ("HMAC_256", "GENERATE_VERIFY_MAC"))
        key = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
        catalog = f"arn:aws:iam::{ACCOUNT}:role/lifeboat-catalog-{REGION}"
        root = f"arn:aws:iam::{ACCOUNT}:root"
        its_own = [{"Statement": [{"Effect": "Allow", "Action": ["kms:*"], "Resource": "*"}]}]
        granted = [{"Statement": statements}]
        self.assertTrue(kms_allowed(Request(catalog, "kms:GenerateMac", key_arn), granted, key))
        self.assertFalse(kms_allowed(Request(root, "kms:GenerateMac", key_arn), its_own, key),
                         "the account could mint fingerprints to test guesses against")
        self.assertFalse(kms_allowed(Request(f"arn:aws:iam::{ACCOUNT}:role/lifeboat-restore-{REGION}",
                                             "kms:GenerateMac", key_arn), its_own, key))
        # The bucket and the backup key let it read what it describes and compares.
        bucket, backup_key = json.loads(self.outputs["bucket_policy"]), json.loads(self.outputs["kms_key_policy"])
        backup_object = f"{bucket_arn}/2026/11/22/130000/infra/prod/k8s/namespaces/t/secrets.json"
        self.assertTrue(allowed(Request(catalog, "s3:GetObject", backup_object), granted, bucket))
        self.assertFalse(allowed(Request(catalog, "s3:PutObject", backup_object), granted, bucket))
        via_s3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
        self.assertTrue(kms_allowed(Request(catalog, "kms:Decrypt", self.outputs["kms_key_arn"], via_s3), granted,
                                    backup_key))

    def test_object_lock_holds_every_backup_version_for_the_retention_days_by_default(self):
        lock = self.aws("s3").get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        self.assertEqual(lock["ObjectLockEnabled"], "Enabled")
        retention = lock["Rule"]["DefaultRetention"]
        self.assertEqual((retention["Mode"], retention["Days"], retention.get("Years", 0)), ("GOVERNANCE", 90, 0))

    def test_the_trails_log_bucket_is_hardened_as_the_backup_bucket_is(self):
        s3 = self.aws("s3")
        logs = self.outputs["trail_log_bucket_name"]
        self.assertEqual(s3.get_bucket_versioning(Bucket=logs)["Status"], "Enabled")
        block = s3.get_public_access_block(Bucket=logs)["PublicAccessBlockConfiguration"]
        self.assertEqual(set(block.values()), {True})
        policy = json.loads(s3.get_bucket_policy(Bucket=logs)["Policy"])
        insecure = next(st for st in policy["Statement"] if st["Sid"] == "DenyInsecureTransport")
        self.assertEqual(insecure["Condition"], {"Bool": {"aws:SecureTransport": "false"}})
        rules = s3.get_bucket_lifecycle_configuration(Bucket=logs)["Rules"]
        self.assertEqual(rules[0]["Expiration"]["Days"], 365)
        rule = s3.get_bucket_encryption(Bucket=logs)["ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "aws:kms")

    def test_each_function_serves_only_the_deployments_infrastructures_clusters_region_and_bucket(self):
        for name in ["backup", "restore"]:
            with self.subTest(function=name):
                env = self.function(name)["Configuration"]["Environment"]["Variables"]
                self.assertEqual(sorted(env["LIFEBOAT_ALLOWED_INFRASTRUCTURES"].split(",")), ["dev", "prod", "staging"])
                self.assertEqual(sorted(env["LIFEBOAT_ALLOWED_CLUSTERS"].split(",")), ["dev-eks", "prod-eks", "staging-eks"])
                self.assertEqual(env["LIFEBOAT_ALLOWED_REGIONS"], REGION)
                self.assertEqual(env["LIFEBOAT_ALLOWED_BUCKETS"], self.bucket)
                self.assertEqual(env["LIFEBOAT_ALLOWED_ROLE_ARNS"], "")

    def test_only_the_listed_invokers_may_invoke_restore_once_the_guard_is_attached(self):
        policy = json.loads(self.aws("lambda").get_policy(FunctionName="lifeboat-restore")["Policy"])
        principals = [st["Principal"]["AWS"] if isinstance(st["Principal"], dict) else st["Principal"]
                      for st in policy["Statement"]]
        self.assertEqual(principals, [OPERATOR])
        restore = self.function("restore")["Configuration"]["FunctionArn"]
        guard = json.loads(self.outputs["restore_invoke_guard_policy"])
        admin = [{"Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}]
        someone = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
        invoke = lambda who: Request(who, "lambda:InvokeFunction", restore)  # noqa: E731
        self.assertTrue(allowed(invoke(someone), admin), "without the guard an account admin invokes restore")
        self.assertFalse(allowed(invoke(someone), admin, guards=[guard]))
        self.assertTrue(allowed(invoke(OPERATOR), admin, guards=[guard]))

    def test_a_third_role_with_read_and_decrypt_in_its_own_policy_gets_no_backup(self):
        bucket, key = json.loads(self.outputs["bucket_policy"]), json.loads(self.outputs["kms_key_policy"])
        key_arn = self.outputs["kms_key_arn"]
        backup_object = f"arn:aws:s3:::{self.bucket}/2026/11/22/130000/infra/prod/k8s/namespaces/t/secrets.json"
        via_s3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
        third = f"arn:aws:iam::{ACCOUNT}:role/curious-admin"
        its_own = [{"Statement": [{"Effect": "Allow", "Action": ["s3:*", "kms:*"], "Resource": "*"}]}]
        for action in ["s3:GetObject", "s3:GetObjectVersion"]:
            self.assertFalse(allowed(Request(third, action, backup_object), its_own, bucket), action)
        self.assertFalse(kms_allowed(Request(third, "kms:Decrypt", key_arn, via_s3), its_own, key))
        # The account still administers the key, without being able to decrypt with it.
        root = f"arn:aws:iam::{ACCOUNT}:root"
        self.assertTrue(kms_allowed(Request(root, "kms:ScheduleKeyDeletion", key_arn), its_own, key))
        self.assertFalse(kms_allowed(Request(root, "kms:Decrypt", key_arn, via_s3), its_own, key))
        # The restore role, with the policy the module gives it, reads and decrypts.
        restore = f"arn:aws:iam::{ACCOUNT}:role/lifeboat-restore-{REGION}"
        granted = [{"Statement": self.role_policy(f"lifeboat-restore-{REGION}")}]
        for action in ["s3:GetObject", "s3:GetObjectVersion"]:
            self.assertTrue(allowed(Request(restore, action, backup_object), granted, bucket), action)
        self.assertTrue(kms_allowed(Request(restore, "kms:Decrypt", key_arn, via_s3), granted, key))
        self.assertFalse(kms_allowed(Request(restore, "kms:Decrypt", key_arn), granted, key),
                         "the key is used only through S3")
        self.assertFalse(allowed(Request(restore, "s3:PutObject", backup_object), granted, bucket))

    def test_the_backup_role_writes_create_only_and_reads_or_deletes_no_backup(self):
        bucket, key = json.loads(self.outputs["bucket_policy"]), json.loads(self.outputs["kms_key_policy"])
        key_arn = self.outputs["kms_key_arn"]
        backup = f"arn:aws:iam::{ACCOUNT}:role/lifeboat-backup-{REGION}"
        granted = [{"Statement": self.role_policy(f"lifeboat-backup-{REGION}")}]
        backup_object = f"arn:aws:s3:::{self.bucket}/2026/11/22/130000/infra/prod/k8s/namespaces/t/secrets.json"
        claim = f"arn:aws:s3:::{self.bucket}/claims/2026/11/22/130000/prod.json"
        encrypted = {"s3:x-amz-server-side-encryption": "aws:kms"}
        write = {**encrypted, "s3:ObjectCreationOperation": "true"}
        put = lambda resource, context: allowed(Request(backup, "s3:PutObject", resource, context), granted, bucket)  # noqa: E731
        self.assertFalse(put(backup_object, write), "a write over a backup without If-None-Match went through")
        self.assertTrue(put(backup_object, {**write, "s3:if-none-match": "*"}))
        # Starting a multipart upload and sending its parts cannot carry the header.
        self.assertTrue(put(backup_object, {**encrypted, "s3:ObjectCreationOperation": "false"}))
        self.assertTrue(put(claim, write), "the claim is taken and released by overwriting it")
        self.assertFalse(put(backup_object, {"s3:ObjectCreationOperation": "true", "s3:if-none-match": "*"}),
                         "a write without SSE-KMS went through")
        for action in ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion",
                       "s3:BypassGovernanceRetention", "s3:PutObjectRetention"]:
            self.assertFalse(allowed(Request(backup, action, backup_object), granted, bucket), action)
        self.assertTrue(allowed(Request(backup, "s3:GetObject", claim), granted, bucket))
        via_s3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
        self.assertTrue(kms_allowed(Request(backup, "kms:GenerateDataKey", key_arn, via_s3), granted, key))
        self.assertFalse(kms_allowed(Request(backup, "kms:Decrypt", key_arn), granted, key))

    def test_each_enabled_infrastructure_has_a_schedule_with_its_rate_and_backup_event(self):
        scheduler = self.aws("scheduler")
        names = sorted(s["Name"] for s in scheduler.list_schedules()["Schedules"])
        self.assertEqual(names, ["lifeboat-backup-prod", "lifeboat-backup-staging", "lifeboat-drill-prod",
                                 "lifeboat-retention"])
        backup_arn = self.function("backup")["Configuration"]["FunctionArn"]
        expected = {
            "prod": ("rate(1 hour)", {"infrastructure": "prod", "cluster": "prod-eks", "region": REGION,
                                      "bucket": self.bucket, "tenants": ["duploservices-billing"],
                                      "settings": {"IsEnabled": True, "IntervalInHours": "1",
                                                   "K8sResourceKinds": ["Secret", "ConfigMap"]},
                                      "scheduled_time": SCHEDULED_TIME}),
            "staging": ("rate(6 hours)", {"infrastructure": "staging", "cluster": "staging-eks", "region": REGION,
                                          "bucket": self.bucket, "tenant_selector": "env=staging",
                                          "exclude_tenants": ["scratch"], "exclude_kinds": ["ConfigMap"],
                                          "settings": {"IsEnabled": True, "IntervalInHours": "6",
                                                       "K8sResourceKinds": ["Secret", "ConfigMap"]},
                                          "scheduled_time": SCHEDULED_TIME}),
        }
        for infra, (rate, event) in expected.items():
            with self.subTest(infrastructure=infra):
                schedule = scheduler.get_schedule(Name=f"lifeboat-backup-{infra}")
                self.assertEqual(schedule["ScheduleExpression"], rate)
                # Spread over the default window; the run is still named by the nominal time.
                self.assertEqual(schedule["FlexibleTimeWindow"], {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15})
                target = schedule["Target"]
                self.assertEqual(target["Arn"], backup_arn)
                self.assertEqual(json.loads(target["Input"]), event)
                # Written literally, or the scheduler would not fill it in.
                self.assertIn(f'"{SCHEDULED_TIME}"', target["Input"])
                self.assertEqual(target["RetryPolicy"], {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3})
                self.assertTrue(target["DeadLetterConfig"]["Arn"].endswith(":lifeboat-dead-letter"))
                self.assertEqual(target["RoleArn"], f"arn:aws:iam::{ACCOUNT}:role/lifeboat-scheduler-{REGION}")

    def test_retention_runs_daily_with_the_retention_days_and_keeps_three_complete_backups(self):
        schedule = self.aws("scheduler").get_schedule(Name="lifeboat-retention")
        self.assertEqual(schedule["ScheduleExpression"], "rate(1 day)")
        target = schedule["Target"]
        self.assertEqual(target["Arn"], self.function("retention")["Configuration"]["FunctionArn"])
        self.assertEqual(json.loads(target["Input"]), {"bucket": self.bucket, "retention_days": 90, "keep_completed": 3})

    def test_retention_reads_manifests_only_deletes_versions_and_cannot_unlock_or_write(self):
        statements = self.role_policy(f"lifeboat-retention-{REGION}")
        granted = [{"Statement": statements}]
        bucket = json.loads(self.outputs["bucket_policy"])
        retention = f"arn:aws:iam::{ACCOUNT}:role/lifeboat-retention-{REGION}"
        run = f"arn:aws:s3:::{self.bucket}/2026/11/22/130000/infra/prod/k8s"
        request = lambda action, resource: allowed(Request(retention, action, resource), granted, bucket)  # noqa: E731
        self.assertTrue(request("s3:GetObject", f"{run}/manifest.json"))
        self.assertFalse(request("s3:GetObject", f"{run}/namespaces/t/secrets.json"), "retention read a Secret's file")
        self.assertTrue(request("s3:DeleteObjectVersion", f"{run}/namespaces/t/secrets.json"))
        for action in ["s3:BypassGovernanceRetention", "s3:PutObjectRetention", "s3:PutObject", "s3:PutObjectLegalHold"]:
            self.assertFalse(request(action, f"{run}/manifest.json"), action)
        self.assertFalse(allowed(Request(retention, "s3:PutLifecycleConfiguration", f"arn:aws:s3:::{self.bucket}"),
                                 [{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}], bucket),
                         "the bucket policy lets retention change the rules")
        # No other function may delete, whatever its role is given.
        for role in ["backup", "restore", "catalog", "drill"]:
            principal = f"arn:aws:iam::{ACCOUNT}:role/lifeboat-{role}-{REGION}"
            everything = [{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}]
            self.assertFalse(allowed(Request(principal, "s3:DeleteObjectVersion", f"{run}/manifest.json"),
                                     everything, bucket), role)

    def test_a_drilled_infrastructure_is_checked_daily_and_alarms_on_a_failed_or_missing_drill(self):
        schedule = self.aws("scheduler").get_schedule(Name="lifeboat-drill-prod")
        self.assertEqual(schedule["ScheduleExpression"], "rate(1 day)")
        target = schedule["Target"]
        self.assertEqual(target["Arn"], self.function("drill")["Configuration"]["FunctionArn"])
        self.assertEqual(json.loads(target["Input"]), {"infrastructure": "prod", "cluster": "drills-eks",
                                                       "region": REGION, "bucket": self.bucket, "every_days": 7,
                                                       "scheduled_time": SCHEDULED_TIME})
        self.assertIn(f'"{SCHEDULED_TIME}"', target["Input"])
        env = self.function("drill")["Configuration"]["Environment"]["Variables"]
        self.assertEqual(env["LIFEBOAT_ALLOWED_CLUSTERS"], "drills-eks", "a drill restores into drill clusters only")
        restore_env = self.function("restore")["Configuration"]["Environment"]["Variables"]
        self.assertNotIn("drills-eks", restore_env["LIFEBOAT_ALLOWED_CLUSTERS"])
        alarms = {a["AlarmName"]: a for a in self.aws("cloudwatch").describe_alarms()["MetricAlarms"]}
        failed, missing = alarms["lifeboat-drill-failed-prod"], alarms["lifeboat-no-drill-prod"]
        self.assertEqual((failed["MetricName"], failed["Statistic"], failed["Threshold"]), ("FailedDrills", "Sum", 0))
        self.assertEqual((missing["MetricName"], missing["Statistic"]), ("HoursSinceDrillPassed", "Maximum"))
        self.assertEqual(missing["Threshold"], 2 * 7 * 24, "no drill passed in twice its interval")
        self.assertEqual((missing["Period"], missing["EvaluationPeriods"]), (86400, 2))
        self.assertEqual(missing["TreatMissingData"], "breaching", "a drill check that stopped must alarm")
        filters = self.aws("logs").describe_metric_filters(logGroupName="/aws/lambda/lifeboat-drill")["metricFilters"]
        values = {f["metricTransformations"][0]["metricName"]: f["metricTransformations"][0]["metricValue"]
                  for f in filters}
        self.assertEqual(values, {"FailedDrills": "1", "HoursSinceDrillPassed": "$.fields.hours_since_passed"})

    def test_the_drill_reads_backups_and_creates_only_its_records_which_no_one_else_may_write(self):
        bucket, key = json.loads(self.outputs["bucket_policy"]), json.loads(self.outputs["kms_key_policy"])
        key_arn = self.outputs["kms_key_arn"]
        drill = f"arn:aws:iam::{ACCOUNT}:role/lifeboat-drill-{REGION}"
        granted = [{"Statement": self.role_policy(f"lifeboat-drill-{REGION}")}]
        run = f"arn:aws:s3:::{self.bucket}/2026/11/22/130000/infra/prod/k8s"
        record, data = f"{run}/drill-20261205T060000Z.json", f"{run}/namespaces/t/secrets.json"
        write = {"s3:x-amz-server-side-encryption": "aws:kms", "s3:ObjectCreationOperation": "true"}
        create = {**write, "s3:if-none-match": "*"}
        put = lambda who, grants, resource, context: allowed(  # noqa: E731
            Request(who, "s3:PutObject", resource, context), grants, bucket)
        self.assertTrue(allowed(Request(drill, "s3:GetObject", data), granted, bucket), "the drill reads backups")
        self.assertTrue(put(drill, granted, record, create))
        self.assertFalse(put(drill, granted, record, write), "a drill record was written over")
        everything = [{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}]
        for resource in [data, f"{run}/manifest.json", f"arn:aws:s3:::{self.bucket}/claims/x.json"]:
            self.assertFalse(put(drill, everything, resource, create), f"the drill wrote {resource}")
        for action in ["s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:BypassGovernanceRetention"]:
            self.assertFalse(allowed(Request(drill, action, record), everything, bucket), action)
        # No other role may put a passed drill on record.
        backup = f"arn:aws:iam::{ACCOUNT}:role/lifeboat-backup-{REGION}"
        backup_granted = [{"Statement": self.role_policy(f"lifeboat-backup-{REGION}")}]
        self.assertFalse(put(backup, backup_granted, record, create), "the backup role forged a drill record")
        via_s3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
        self.assertTrue(kms_allowed(Request(drill, "kms:GenerateDataKey", key_arn, via_s3), granted, key))
        self.assertTrue(kms_allowed(Request(drill, "kms:Decrypt", key_arn, via_s3), granted, key))
        self.assertFalse(kms_allowed(Request(drill, "kms:GenerateDataKey", key_arn), granted, key),
                         "the key is used only through S3")

    def test_the_schedules_role_may_only_invoke_backup_retention_and_drill(self):
        statements = self.role_policy(f"lifeboat-scheduler-{REGION}")
        arns = [self.function(f)["Configuration"]["FunctionArn"] for f in ["backup", "retention", "drill"]]
        self.assertEqual(self.grants(statements, "lambda:InvokeFunction"), sorted(arns))
        actions = sorted(a for s in statements for a in policy.actions(s))
        self.assertEqual(actions, ["lambda:InvokeFunction", "sqs:SendMessage"])

    def test_the_trail_is_multi_region_validated_encrypted_logging_and_records_the_bucket_and_functions(self):
        cloudtrail = self.aws("cloudtrail")
        trail = cloudtrail.get_trail(Name="lifeboat-audit")["Trail"]
        self.assertTrue(trail["IsMultiRegionTrail"])
        self.assertTrue(trail["LogFileValidationEnabled"])
        self.assertTrue(trail["KmsKeyId"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"))
        self.assertNotEqual(trail["S3BucketName"], self.bucket)
        self.assertTrue(cloudtrail.get_trail_status(Name=trail["TrailARN"])["IsLogging"])
        selectors = cloudtrail.get_event_selectors(TrailName=trail["TrailARN"])["EventSelectors"]
        data = {d["Type"]: d["Values"] for s in selectors for d in s["DataResources"]}
        self.assertEqual(data["AWS::S3::Object"], [f"arn:aws:s3:::{self.bucket}/"])
        functions = sorted(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:lifeboat-{n}"
                           for n in ["backup", "restore", "catalog", "retention", "drill"])
        self.assertEqual(sorted(data["AWS::Lambda::Function"]), functions)
        self.assertEqual({s["ReadWriteType"] for s in selectors}, {"All"})

    def test_alarms_watch_function_errors_and_each_enabled_infrastructure_for_a_missing_backup(self):
        alarms = {a["AlarmName"]: a for a in self.aws("cloudwatch").describe_alarms()["MetricAlarms"]}
        self.assertEqual(sorted(alarms), ["lifeboat-backup-errors", "lifeboat-catalog-errors", "lifeboat-drill-errors",
                                          "lifeboat-drill-failed-prod", "lifeboat-no-backup-prod",
                                          "lifeboat-no-backup-staging", "lifeboat-no-drill-prod",
                                          "lifeboat-restore-errors", "lifeboat-retention-errors"])
        self.assertEqual(alarms["lifeboat-no-backup-prod"]["Period"], 3600)
        self.assertEqual(alarms["lifeboat-no-backup-staging"]["Period"], 6 * 3600)
        self.assertEqual(alarms["lifeboat-no-backup-staging"]["TreatMissingData"], "breaching")
        filters = self.aws("logs").describe_metric_filters(logGroupName="/aws/lambda/lifeboat-backup")["metricFilters"]
        self.assertEqual(filters[0]["metricTransformations"][0]["metricName"], "SuccessfulBackups")


class ClustersInOtherAccounts(Emulated):
    """Each function assumes only its own kind of role there; the backup function never the restore one."""

    def test_each_function_may_assume_and_is_told_only_its_own_remote_role(self):
        tf = Terraform("examples/single-region", self.endpoint)
        try:
            tf.run("init")
            tf.run("apply", "-auto-approve", tf.tfvars(example_vars(infrastructures={"far": REMOTE})))
            iam, lam = self.aws("iam"), self.aws("lambda")
            for function, own, other in [("backup", REMOTE["backup_role_arn"], REMOTE["restore_role_arn"]),
                                         ("restore", REMOTE["restore_role_arn"], REMOTE["backup_role_arn"])]:
                with self.subTest(function=function):
                    role = f"lifeboat-{function}-{REGION}"
                    documents = []
                    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
                        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
                        documents.append(json.loads(doc) if isinstance(doc, str) else doc)
                    me = f"arn:aws:iam::{ACCOUNT}:role/{role}"
                    self.assertTrue(allowed(Request(me, "sts:AssumeRole", own), documents))
                    self.assertFalse(allowed(Request(me, "sts:AssumeRole", other), documents))
                    env = lam.get_function(FunctionName=f"lifeboat-{function}")["Configuration"]["Environment"]["Variables"]
                    self.assertEqual(env["LIFEBOAT_ALLOWED_ROLE_ARNS"], own)
            target = self.aws("scheduler").get_schedule(Name="lifeboat-backup-far")["Target"]
            event = json.loads(target["Input"])
            self.assertEqual((event["role_arn"], event["external_id"]), (REMOTE["backup_role_arn"], "fleet-7-backup"))
        finally:
            tf.close()


class CopiesInASecondRegion(Emulated):
    """The multi-region example copies the primary's backups into the secondary's bucket, under its key."""

    def test_new_versions_are_copied_to_the_other_regions_bucket_under_its_key_and_no_deletion_is(self):
        per_region = {"cluster_name": "c", "settings": {"IsEnabled": True, "IntervalInHours": "2",
                                                        "K8sResourceKinds": ["Secret"]}}
        values = {
            "primary_infrastructures": {"us": per_region}, "secondary_infrastructures": {"eu": per_region},
            "backup_function_zip": str(ZIPS["backup"]), "restore_function_zip": str(ZIPS["restore"]),
            "catalog_function_zip": str(ZIPS["catalog"]), "retention_function_zip": str(ZIPS["retention"]),
            "drill_function_zip": str(ZIPS["drill"]), "architecture": "x86_64", "manage_eks_access": False,
            "primary_region": REGION, "secondary_region": SECONDARY,
        }
        tf = Terraform("examples/multi-region", self.endpoint)
        try:
            tf.run("init")
            same = dict(values, secondary_infrastructures={"us": per_region})
            refused = tf.run("plan", tf.tfvars(same), check=False)
            self.assertNotEqual(refused.returncode, 0, "one infrastructure name in both regions was accepted")
            self.assertIn("names must differ", " ".join(refused.stderr.split()))

            tf.run("apply", "-auto-approve", tf.tfvars(values))
            outputs = json.loads(tf.run("output", "-json").stdout)
            home, copy = (outputs["bucket_names"]["value"][r] for r in [REGION, SECONDARY])
            copy_key = self.aws("s3", SECONDARY).get_bucket_encryption(Bucket=copy)[
                "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
            home_key = self.aws("s3").get_bucket_encryption(Bucket=home)[
                "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
            self.assertTrue(copy_key.startswith(f"arn:aws:kms:{SECONDARY}:"), copy_key)

            replication = self.aws("s3").get_bucket_replication(Bucket=home)["ReplicationConfiguration"]
            role = replication["Role"]
            self.assertEqual(role, f"arn:aws:iam::{ACCOUNT}:role/lifeboat-replication-{REGION}")
            [rule] = replication["Rules"]
            self.assertEqual(rule["Status"], "Enabled")
            self.assertEqual(rule["Destination"]["Bucket"], f"arn:aws:s3:::{copy}")
            self.assertEqual(rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"], copy_key)
            self.assertEqual(rule["DeleteMarkerReplication"]["Status"], "Disabled")

            iam = self.aws("iam")
            name = role.split("/")[-1]
            documents = []
            for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                doc = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                documents.append(json.loads(doc) if isinstance(doc, str) else doc)
            run = "2026/11/22/130000/infra/us/k8s/manifest.json"
            can = lambda action, resource, context=None: allowed(Request(role, action, resource, context or {}), documents)  # noqa: E731
            self.assertTrue(can("s3:GetObjectVersionForReplication", f"arn:aws:s3:::{home}/{run}"))
            self.assertTrue(can("s3:GetObjectRetention", f"arn:aws:s3:::{home}/{run}"), "the lock is copied too")
            self.assertTrue(can("s3:ReplicateObject", f"arn:aws:s3:::{copy}/{run}"))
            for action, resource in [("s3:ReplicateDelete", f"arn:aws:s3:::{copy}/{run}"),
                                     ("s3:DeleteObjectVersion", f"arn:aws:s3:::{copy}/{run}"),
                                     ("s3:GetObject", f"arn:aws:s3:::{home}/{run}"),
                                     ("s3:ReplicateObject", f"arn:aws:s3:::{home}/{run}")]:
                self.assertFalse(can(action, resource), f"{action} on {resource}")

            home_policy = json.loads(self.aws("kms").get_key_policy(KeyId=home_key, PolicyName="default")["Policy"])
            copy_policy = json.loads(self.aws("kms", SECONDARY).get_key_policy(KeyId=copy_key, PolicyName="default")["Policy"])
            via = lambda region: {"kms:ViaService": f"s3.{region}.amazonaws.com"}  # noqa: E731
            self.assertTrue(kms_allowed(Request(role, "kms:Decrypt", home_key, via(REGION)), documents, home_policy))
            self.assertTrue(kms_allowed(Request(role, "kms:GenerateDataKey", copy_key, via(SECONDARY)), documents,
                                        copy_policy))
            self.assertFalse(kms_allowed(Request(role, "kms:Decrypt", copy_key, via(SECONDARY)), documents, copy_policy),
                             "the replication role reads the copies")
            self.assertFalse(kms_allowed(Request(role, "kms:GenerateDataKey", copy_key), documents, copy_policy),
                             "the copy's key is used only through S3")

            restore = outputs["restore_from_copy"]["value"]
            self.assertEqual(restore["event"]["bucket"], copy)
            self.assertEqual(restore["function"], "lifeboat-restore")
        finally:
            tf.close()


class BackupsOutliveTheDeployment(Emulated):
    """Removing an infrastructure, and destroying the deployment, never deletes a backup."""

    def test_removing_an_infrastructure_or_destroying_everything_keeps_every_backup(self):
        tf = Terraform("examples/single-region", self.endpoint)
        try:
            tf.run("init")
            tf.run("apply", "-auto-approve", tf.tfvars(example_vars()))
            bucket = json.loads(tf.run("output", "-json").stdout)["bucket_name"]["value"]
            key_arn = self.aws("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
                "Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
            backups = [f"2026/11/22/130000/infra/{i}/k8s/manifest.json" for i in ["prod", "staging"]]
            for key in backups:
                emulator.put_backup(ACCOUNT, bucket, key, b"{}", key_arn)

            tf.run("apply", "-auto-approve", tf.tfvars(example_vars(infrastructures=infrastructures(staging=None))))
            names = sorted(s["Name"] for s in self.aws("scheduler").list_schedules()["Schedules"])
            self.assertEqual(names, ["lifeboat-backup-prod", "lifeboat-drill-prod", "lifeboat-retention"])
            self.assert_kept(bucket, backups, key_arn)

            refused = tf.run("destroy", "-auto-approve", tf.tfvars(example_vars()), check=False)
            self.assertNotEqual(refused.returncode, 0, "destroy went ahead over the backups")
            self.assertIn("prevent_destroy", " ".join(refused.stderr.split()))
            self.assert_kept(bucket, backups, key_arn)
            self.assertEqual(len(self.aws("lambda").list_functions()["Functions"]), 5,
                             "a refused destroy removed something")

            # The uninstall the README describes: let go of the storage and the trail's log
            # bucket, destroy the rest.
            tf.run("state", "rm", "module.lifeboat.module.storage", "module.lifeboat.module.trail[0].module.logs")
            tf.run("destroy", "-auto-approve", tf.tfvars(example_vars()))
            self.assertEqual(self.aws("lambda").list_functions()["Functions"], [])
            self.assertEqual(self.aws("scheduler").list_schedules()["Schedules"], [])
            self.assert_kept(bucket, backups, key_arn)
        finally:
            tf.close()

    def assert_kept(self, bucket, backups, key_arn):
        for key in backups:
            self.assertEqual(emulator.stored(ACCOUNT, bucket, key), b"{}", key)
        self.assertEqual(self.aws("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"], "Enabled")


if __name__ == "__main__":
    unittest.main()
