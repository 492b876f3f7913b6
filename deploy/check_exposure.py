#!/usr/bin/env python3
"""Asserts what deploy/template.yaml exposes to the internet.

rp-server serves /internal/*, /admin/* and /metrics only on RP_INTERNAL_LISTEN_ADDR.
This check reads the template (with cfn-lint's parser, which understands the
intrinsic functions) and fails unless:

- rp-server's container sets RP_INTERNAL_LISTEN_ADDR to a port other than
  RP_LISTEN_ADDR's;
- every internet-facing load balancer forwards only to rp-server's public port, and
  its listeners answer the private paths themselves (a fixed response) before any
  forward;
- no security group admits the internet (0.0.0.0/0, ::/0) except an internet-facing
  load balancer's, and only on 80/443; rp-server's tasks admit no address range at
  all, and admit the internal port only from security groups of internal load
  balancers;
- the function that calls rp-server (RP_SERVER_URL) runs in the VPC;
- rp-server keeps idle connections open longer than every load balancer does
  (otherwise a balancer reuses a connection rp-server is closing: a 502);
- passkey-first sign-up cannot be turned on without a mail sender (a rule refuses
  SignupEnabled without EmailFrom), and the container sets RP_EMAIL_TRANSPORT;
- RP_TRUSTED_PROXIES names no whole private range (only the balancers' subnets);
- the image (deploy/Dockerfile, beside the template) serves the private paths on a
  listener of their own by default;
- each task's database pool is `DatabasePoolSize`, and with the defaults the most tasks
  a deployment runs (`MaxCount` x `MaximumPercent`) fit the default db.t4g.micro's
  connections (deploy/README.md, *Connections*).

`--self-test` breaks the template in each of those ways and checks that every break
is caught, so the check itself cannot silently pass.
"""
import copy
import json
import os
import re
import fnmatch
import sys

from cfnlint.decode import decode

PRIVATE_PATHS = ["/internal/v1/redeem", "/admin/v1/stats", "/metrics", "/console/"]
OPEN = {"0.0.0.0/0", "::/0"}
# A db.t4g.micro's max_connections is about 100 (RDS: LEAST(DBInstanceClassMemory/9531392,
# 5000) on 1 GiB); 10 of them stay for admins, migrations and RDS's reserved connections.
MICRO_CONNECTIONS = 90


def ref(value):
    """The logical id a Ref or GetAtt names, or None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else str(att).split(".")[0]
    return None


def expanded(resources):
    """The resources, with each `Fn::ForEach::*` loop's template taken once (its
    identifier left unresolved): what a loop makes is checked like any resource."""
    out = {}
    for key, value in resources.items():
        if key.startswith("Fn::ForEach::") and isinstance(value, list) and len(value) == 3:
            for inner_key, inner in value[2].items():
                out[f"{key}/{inner_key}"] = inner
        else:
            out[key] = value
    return out


def of_type(resources, kind):
    return {k: v for k, v in expanded(resources).items() if v.get("Type") == kind}


def port_of(addr):
    return int(str(addr).rsplit(":", 1)[1])


def problems_of(template):
    problems = []
    res = template.get("Resources", {})

    # rp-server's ports and timeouts, from its container definition.
    env = {}
    for td in of_type(res, "AWS::ECS::TaskDefinition").values():
        for c in td["Properties"].get("ContainerDefinitions", []):
            for e in c.get("Environment", []):
                # A conditional entry: `!If [cond, {Name, Value}, !Ref AWS::NoValue]`.
                if "Fn::If" in e:
                    e = e["Fn::If"][1]
                env[e["Name"]] = e.get("Value")
    if "RP_LISTEN_ADDR" not in env:
        return ["rp-server's container does not set RP_LISTEN_ADDR"]
    public_port = port_of(env["RP_LISTEN_ADDR"])
    internal_port = None
    if "RP_INTERNAL_LISTEN_ADDR" not in env:
        problems.append("rp-server's container does not set RP_INTERNAL_LISTEN_ADDR: /internal/*, /admin/* and /metrics share the public port")
    else:
        internal_port = port_of(env["RP_INTERNAL_LISTEN_ADDR"])
        if internal_port == public_port:
            problems.append("RP_INTERNAL_LISTEN_ADDR uses the public port")
    idle_secs = int(env.get("RP_HEADER_READ_TIMEOUT_SECS", 10))

    # Passkey-first sign-up only with a sender, so every sign-up proves its address.
    signup_rules = [
        r for r in template.get("Rules", {}).values()
        if "SignupEnabled" in json.dumps(r.get("RuleCondition"))
        and any("EmailFrom" in json.dumps(a.get("Assert")) for a in r.get("Assertions", []))
    ]
    if not signup_rules:
        problems.append("nothing refuses SignupEnabled without EmailFrom: deployed sign-up would not prove addresses")
    proxies = json.dumps(env.get("RP_TRUSTED_PROXIES"))
    if any(wide in proxies for wide in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "0.0.0.0/0")):
        problems.append("RP_TRUSTED_PROXIES trusts whole private ranges: anything in them could write the client IP")
    if "RP_EMAIL_TRANSPORT" not in env:
        problems.append("rp-server's container never sets RP_EMAIL_TRANSPORT: no email codes, no verified sign-up")

    # The tasks' connections fit the default database's (deploy/README.md, Connections).
    params = template.get("Parameters", {})
    if ref(env.get("RP_DB_MAX_CONNECTIONS")) != "DatabasePoolSize":
        problems.append("rp-server's container does not take RP_DB_MAX_CONNECTIONS from DatabasePoolSize: every task opens rp-server's default of 10")
    elif params.get("DatabaseInstanceClass", {}).get("Default") != "db.t4g.micro":
        problems.append("the connection budget is a db.t4g.micro's, and DatabaseInstanceClass's default is not one")
    else:
        # A deployment runs the old and the new tasks side by side.
        surge = max((int(svc["Properties"].get("DeploymentConfiguration", {}).get("MaximumPercent", 200))
                     for svc in of_type(res, "AWS::ECS::Service").values()), default=200)
        tasks = int(params["MaxCount"]["Default"]) * surge // 100
        pool = int(params["DatabasePoolSize"]["Default"])
        if tasks * pool > MICRO_CONNECTIONS:
            problems.append(f"{tasks} tasks x {pool} connections = {tasks * pool}: more than a db.t4g.micro's ~{MICRO_CONNECTIONS} to spare")

    # Which container port each target group reaches (from the ECS service).
    tg_port = {k: v["Properties"].get("Port") for k, v in of_type(res, "AWS::ElasticLoadBalancingV2::TargetGroup").items()}
    service_sgs = set()
    for svc in of_type(res, "AWS::ECS::Service").values():
        p = svc["Properties"]
        for lb in p.get("LoadBalancers", []):
            tg_port[ref(lb["TargetGroupArn"])] = lb["ContainerPort"]
        for sg in p.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {}).get("SecurityGroups", []):
            service_sgs.add(ref(sg))

    # Load balancers, their security groups, listeners and rules.
    lbs = of_type(res, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    public_lbs = {k for k, v in lbs.items() if v["Properties"].get("Scheme", "internet-facing") == "internet-facing"}
    sg_lbs = {}
    for k, v in lbs.items():
        for sg in v["Properties"].get("SecurityGroups", []):
            sg_lbs.setdefault(ref(sg), set()).add(k)
        attrs = {a["Key"]: a["Value"] for a in v["Properties"].get("LoadBalancerAttributes", [])}
        lb_idle = int(attrs.get("idle_timeout.timeout_seconds", 60))
        if idle_secs <= lb_idle:
            problems.append(f"RP_HEADER_READ_TIMEOUT_SECS ({idle_secs}) is not above {k}'s idle timeout ({lb_idle})")

    listeners = of_type(res, "AWS::ElasticLoadBalancingV2::Listener")
    rules = of_type(res, "AWS::ElasticLoadBalancingV2::ListenerRule")

    def forwards(actions):
        for a in actions:
            if a.get("Type") == "forward":
                if "TargetGroupArn" in a:
                    yield ref(a["TargetGroupArn"])
                for tg in a.get("ForwardConfig", {}).get("TargetGroups", []):
                    yield ref(tg["TargetGroupArn"])

    for lk, listener in listeners.items():
        lp = listener["Properties"]
        if ref(lp["LoadBalancerArn"]) not in public_lbs:
            continue
        own_rules = sorted(
            (r["Properties"] for r in rules.values() if ref(r["Properties"]["ListenerArn"]) == lk),
            key=lambda r: int(r["Priority"]),
        )
        for tg in list(forwards(lp.get("DefaultActions", []))) + [tg for r in own_rules for tg in forwards(r["Actions"])]:
            if tg_port.get(tg) != public_port:
                problems.append(f"internet-facing listener {lk} forwards to {tg} (port {tg_port.get(tg)}), not rp-server's public port {public_port}")
        if any(a.get("Type") == "redirect" for a in lp.get("DefaultActions", [])):
            continue  # e.g. HTTP → HTTPS: answers every path with a redirect
        for path in PRIVATE_PATHS:
            first = next(
                (r for r in own_rules for c in r.get("Conditions", []) if c.get("Field") == "path-pattern"
                 and any(fnmatch.fnmatchcase(path, pat) for pat in c.get("PathPatternConfig", {}).get("Values", c.get("Values", [])))),
                None,
            )
            if first is None or any(a.get("Type") != "fixed-response" for a in first["Actions"]):
                problems.append(f"internet-facing listener {lk} does not answer {path} itself (a fixed-response rule before any forward)")

    # Security group ingress, inline and as separate resources.
    ingress = []
    for k, v in of_type(res, "AWS::EC2::SecurityGroup").items():
        for rule in v["Properties"].get("SecurityGroupIngress", []):
            ingress.append((k, rule))
    for v in of_type(res, "AWS::EC2::SecurityGroupIngress").values():
        ingress.append((ref(v["Properties"]["GroupId"]), v["Properties"]))
    for sg, rule in ingress:
        lo, hi = int(rule.get("FromPort", 0)), int(rule.get("ToPort", 65535))
        cidr = rule.get("CidrIp", rule.get("CidrIpv6"))
        source = ref(rule.get("SourceSecurityGroupId"))
        if isinstance(cidr, str) and cidr in OPEN:
            only_public = sg in sg_lbs and sg_lbs[sg] <= public_lbs
            if not only_public or not {lo, hi} <= {80, 443} or lo != hi:
                problems.append(f"security group {sg} admits the internet on ports {lo}-{hi}")
        if sg in service_sgs:
            if cidr is not None:
                problems.append(f"rp-server's security group {sg} admits an address range ({cidr}); only load balancers may reach it")
            if internal_port is not None and lo <= internal_port <= hi:
                if source is None or source not in sg_lbs or sg_lbs[source] & public_lbs:
                    problems.append(f"rp-server's internal port {internal_port} is reachable from {source or cidr}, not only from internal load balancers")

    # The trigger function reaches the internal port from inside the VPC.
    for k, v in of_type(res, "AWS::Serverless::Function").items():
        variables = v["Properties"].get("Environment", {}).get("Variables", {})
        if "RP_SERVER_URL" in variables and not v["Properties"].get("VpcConfig", {}).get("SecurityGroupIds"):
            problems.append(f"function {k} calls rp-server but does not run in the VPC (no VpcConfig)")
    return problems


def break_in(template, how):
    t = copy.deepcopy(template)
    r = t["Resources"]
    container = r["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    if how == "the public listener forwards to the internal port":
        r["HttpsListener"]["Properties"]["DefaultActions"][0]["TargetGroupArn"] = {"Ref": "InternalTargetGroup"}
    elif how == "the private-paths rule is gone":
        del r["HttpsPrivatePathsRule"]
    elif how == "the private-paths rule forwards":
        r["HttpsPrivatePathsRule"]["Properties"]["Actions"] = [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}]
    elif how == "the internal listener is unset":
        container["Environment"] = [e for e in container["Environment"] if e.get("Name") != "RP_INTERNAL_LISTEN_ADDR"]
    elif how == "the tasks admit the internet":
        r["ServiceSecurityGroup"]["Properties"]["SecurityGroupIngress"].append({"IpProtocol": "tcp", "FromPort": 8081, "ToPort": 8081, "CidrIp": "0.0.0.0/0"})
    elif how == "the public balancer reaches the internal port":
        r["ServiceSecurityGroup"]["Properties"]["SecurityGroupIngress"].append({"IpProtocol": "tcp", "FromPort": 8081, "ToPort": 8081, "SourceSecurityGroupId": {"Ref": "LoadBalancerSecurityGroup"}})
    elif how == "the internal balancer is internet-facing":
        r["InternalLoadBalancer"]["Properties"]["Scheme"] = "internet-facing"
    elif how == "the internal balancer admits the internet":
        r["InternalLoadBalancerFromAdmins"]["Properties"]["CidrIp"] = "0.0.0.0/0"
    elif how == "the function is outside the VPC":
        del r["TriggersFunction"]["Properties"]["VpcConfig"]
    elif how == "every private address is a proxy":
        for e in container["Environment"]:
            if e.get("Name") == "RP_TRUSTED_PROXIES":
                e["Value"] = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
    elif how == "sign-up needs no sender":
        del t["Rules"]["SignupProvesTheAddress"]
    elif how == "mail is never configured":
        container["Environment"] = [e for e in container["Environment"] if "RP_EMAIL_TRANSPORT" not in json.dumps(e)]
    elif how == "the tasks take rp-server's default pool":
        container["Environment"] = [e for e in container["Environment"] if e.get("Name") != "RP_DB_MAX_CONNECTIONS"]
    elif how == "the pool outgrows the database":
        t["Parameters"]["DatabasePoolSize"]["Default"] = 5
    elif how == "deployments run three times the tasks":
        r["Service"]["Properties"]["DeploymentConfiguration"]["MaximumPercent"] = 300
    elif how == "rp-server closes idle connections first":
        for e in container["Environment"]:
            if e.get("Name") == "RP_HEADER_READ_TIMEOUT_SECS":
                e["Value"] = "30"
    else:
        raise ValueError(how)
    return t


BREAKS = [
    "the public listener forwards to the internal port",
    "the private-paths rule is gone",
    "the private-paths rule forwards",
    "the internal listener is unset",
    "the tasks admit the internet",
    "the public balancer reaches the internal port",
    "the internal balancer is internet-facing",
    "the internal balancer admits the internet",
    "the function is outside the VPC",
    "rp-server closes idle connections first",
    "every private address is a proxy",
    "sign-up needs no sender",
    "mail is never configured",
    "the tasks take rp-server's default pool",
    "the pool outgrows the database",
    "deployments run three times the tasks",
]


def dockerfile_problems(text):
    """The image's defaults: the private paths on a listener of their own."""
    env = dict(re.findall(r"(RP_[A-Z_]+)=(\S+)", " ".join(l for l in text.splitlines() if l.startswith("ENV "))))
    if "RP_INTERNAL_LISTEN_ADDR" not in env:
        return ["the image does not set RP_INTERNAL_LISTEN_ADDR: run as it is, it serves /internal/*, /admin/* and /metrics on the public port"]
    if port_of(env["RP_INTERNAL_LISTEN_ADDR"]) == port_of(env.get("RP_LISTEN_ADDR", "0.0.0.0:8080")):
        return ["the image's RP_INTERNAL_LISTEN_ADDR is its public port"]
    return []


def main():
    path = next((a for a in sys.argv[1:] if not a.startswith("--")), "deploy/template.yaml")
    template, matches = decode(path)
    if matches:
        sys.exit(f"{path}: {matches}")
    problems = problems_of(template)
    dockerfile = os.path.join(os.path.dirname(path), "Dockerfile")
    problems += dockerfile_problems(open(dockerfile).read())
    if problems:
        sys.exit("\n".join(problems))
    print("the internet reaches only rp-server's public port, and the private paths nowhere")
    if "--self-test" in sys.argv:
        missed = [how for how in BREAKS if not problems_of(break_in(template, how))]
        if not dockerfile_problems("ENV RP_LISTEN_ADDR=0.0.0.0:8080 RP_LOG_FORMAT=json\n"):
            missed.append("an image without the internal listener")
        if missed:
            sys.exit(f"the exposure check misses: {missed}")
        print(f"self-test: all {len(BREAKS)} breaks caught")


if __name__ == "__main__":
    main()
