"""simposture — the directory behind the simulated tenant's posture APIs.

Serves, for tests/sim/simtenant.py, the Microsoft Graph v1.0 reads that
glasswatchd's posture checks make (shapes from shared/API-FACTS.md 5):

  GET /v1.0/users/{id}?$select=...                  users (signInActivity
                                                    only by object id)
  GET /v1.0/users/{id}/authentication/methods       authentication methods
  GET /v1.0/roleManagement/directory/roleAssignments          active roles
  GET /v1.0/roleManagement/directory/roleAssignmentSchedules  (PIM, active)
  GET /v1.0/roleManagement/directory/roleEligibilitySchedules (eligible)
  GET /v1.0/groups/{id}/transitiveMembers           group members
  GET /v1.0/identity/conditionalAccess/policies     Conditional Access

The tests set the whole directory with POST /posture on the control port
(GET /posture returns what the sim serves); objects may leave out what
the real service would fill in (ids, schedule details, empty condition
lists), and those are completed here with the real shapes.  Directory
shape as posted:

  {"users": [{"id", "userPrincipalName", "accountEnabled",
              "onPremisesSyncEnabled", "passwordPolicies",
              "signInActivity", "methods": [{"@odata.type": ...}, ...]}],
   "groups": {"<group id>": ["<member object id>", ...]},
   "roleAssignments": [{"principalId", "roleDefinitionId"}],
   "roleAssignmentSchedules": [{"principalId", "roleDefinitionId",
                                "expiration": {"type", "endDateTime"}}],
   "roleEligibilitySchedules": [...],
   "policies": [{"displayName", "state", "createdDateTime",
                 "templateId", "users": {"includeUsers": [...], ...}}],
   "page_size": N,                    # list pages of at most N items
   "denied": ["signInActivity", "methods", "roles", "groups",
              "policies", "users"]}   # answered 403, as without consent
"""

import base64
import copy
import re
import time
import urllib.parse
import uuid

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
GRAPH_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#"
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
USER_FIELDS = ("id", "displayName", "userPrincipalName", "accountEnabled",
               "onPremisesSyncEnabled", "passwordPolicies",
               "lastPasswordChangeDateTime", "userType", "createdDateTime",
               "signInActivity")
# Without $select Graph returns a default set, never the select-only ones.
USER_DEFAULT = ("id", "displayName", "userPrincipalName")
USER_LISTS = ("includeUsers", "excludeUsers", "includeGroups",
              "excludeGroups", "includeRoles", "excludeRoles")
DENIABLE = ("signInActivity", "methods", "roles", "groups", "policies",
            "users")

PATHS = [
    ("user", re.compile(r"^/v1\.0/users/([^/]+)$")),
    ("methods", re.compile(r"^/v1\.0/users/([^/]+)/authentication/"
                           r"methods$")),
    ("roleAssignments", re.compile(r"^/v1\.0/roleManagement/directory/"
                                   r"roleAssignments$")),
    ("roleAssignmentSchedules", re.compile(
        r"^/v1\.0/roleManagement/directory/roleAssignmentSchedules$")),
    ("roleEligibilitySchedules", re.compile(
        r"^/v1\.0/roleManagement/directory/roleEligibilitySchedules$")),
    ("members", re.compile(r"^/v1\.0/groups/([^/]+)/transitiveMembers$")),
    ("policies", re.compile(r"^/v1\.0/identity/conditionalAccess/"
                            r"policies$")),
]


class DirectoryError(Exception):
    pass


def match(path):
    """Is this one of the posture paths?"""
    path = urllib.parse.unquote(path)
    return any(rx.match(path) for _, rx in PATHS)


def _guid():
    return str(uuid.uuid4())


def _error(status, code, message):
    return status, {"error": {"code": code, "message": message,
                              "innerError": {
                                  "date": time.strftime("%Y-%m-%dT%H:%M:%S",
                                                        time.gmtime()),
                                  "request-id": _guid(),
                                  "client-request-id": _guid()}}}


def _method(m):
    """An authentication method completed as Graph returns it."""
    m = dict(m)
    t = m.get("@odata.type")
    if not isinstance(t, str) or not t.startswith("#microsoft.graph."):
        raise DirectoryError("a method needs an @odata.type "
                             "#microsoft.graph.<type>")
    kind = t[len("#microsoft.graph."):]
    defaults = {
        "passwordAuthenticationMethod": {"id": PASSWORD_METHOD_ID,
                                         "password": None},
        "phoneAuthenticationMethod": {"phoneNumber": "+1 2065550123",
                                      "phoneType": "mobile",
                                      "smsSignInState": "notSupported"},
        "fido2AuthenticationMethod": {
            "displayName": "Security key", "model": "Security Key",
            "aaGuid": "2fc0579f-8113-47ea-b116-bb5a8db9202a",
            "attestationCertificates": [], "attestationLevel": "attested",
            "passkeyType": "deviceBound"},
        "microsoftAuthenticatorAuthenticationMethod": {
            "displayName": "Phone", "deviceTag": "SoftwareTokenActivated",
            "phoneAppVersion": "6.2401.0119"},
        "x509CertificateAuthenticationMethod": {},
        "emailAuthenticationMethod": {"emailAddress": "x@example.com"},
        "softwareOathAuthenticationMethod": {"secretKey": None},
        "temporaryAccessPassAuthenticationMethod": {
            "lifetimeInMinutes": 60, "isUsableOnce": True,
            "isUsable": False, "methodUsabilityReason": "Expired",
            "temporaryAccessPass": None},
        "windowsHelloForBusinessAuthenticationMethod": {
            "displayName": "PC", "keyStrength": "normal"},
    }
    for k, v in defaults.get(kind, {}).items():
        m.setdefault(k, v)
    m.setdefault("id", _guid())
    m.setdefault("createdDateTime", "2025-03-01T10:00:00Z")
    return m


def _schedule(s, eligible):
    s = dict(s)
    exp = s.pop("expiration", None) or {"type": "noExpiration"}
    s.setdefault("id", _guid())
    s.setdefault("directoryScopeId", "/")
    s.setdefault("appScopeId", None)
    s.setdefault("createdUsing", s["id"])
    s.setdefault("createdDateTime", "2025-01-10T08:00:00Z")
    s.setdefault("modifiedDateTime", None)
    s.setdefault("status", "Provisioned")
    s.setdefault("memberType", "Direct")
    if not eligible:
        s.setdefault("assignmentType", "Assigned")
    s.setdefault("scheduleInfo", {
        "startDateTime": "2025-01-10T08:00:00Z", "recurrence": None,
        "expiration": {"type": exp.get("type", "noExpiration"),
                       "endDateTime": exp.get("endDateTime"),
                       "duration": exp.get("duration")}})
    return s


def _policy(p):
    p = dict(p)
    users = dict(p.pop("users", {}) or {})
    for k in USER_LISTS:
        users.setdefault(k, [])
    users.setdefault("includeGuestsOrExternalUsers", None)
    users.setdefault("excludeGuestsOrExternalUsers", None)
    p.setdefault("id", _guid())
    p.setdefault("displayName", "Policy")
    p.setdefault("description", None)
    p.setdefault("state", "enabled")
    if p["state"] not in ("enabled", "disabled",
                          "enabledForReportingButNotEnforced"):
        raise DirectoryError("bad policy state %r" % p["state"])
    p.setdefault("createdDateTime", "2025-02-01T09:00:00Z")
    p.setdefault("modifiedDateTime", None)
    p.setdefault("deletedDateTime", None)
    p.setdefault("templateId", None)
    p.setdefault("sessionControls", None)
    p.setdefault("conditions", {
        "signInRiskLevels": [], "userRiskLevels": [],
        "servicePrincipalRiskLevels": [], "clientAppTypes": ["all"],
        "platforms": None, "locations": None, "devices": None,
        "clientApplications": None, "authenticationFlows": None,
        "insiderRiskLevels": None,
        "applications": {"includeApplications": ["All"],
                         "excludeApplications": [],
                         "includeUserActions": [],
                         "includeAuthenticationContextClassReferences": []}})
    p["conditions"] = dict(p["conditions"])
    p["conditions"]["users"] = users
    p.setdefault("grantControls", {"operator": "OR",
                                   "builtInControls": ["mfa"],
                                   "customAuthenticationFactors": [],
                                   "termsOfUse": [],
                                   "authenticationStrength": None})
    return p


class Directory:
    """What the posture APIs answer; set as a whole by the tests."""

    def __init__(self):
        self.load({})

    def load(self, body):
        if not isinstance(body, dict):
            raise DirectoryError("the directory is a JSON object")
        users = {}
        for u in body.get("users", []):
            u = dict(u)
            if not GUID_RE.match(str(u.get("id", ""))):
                raise DirectoryError("a user needs an object id")
            methods = [_method(m) for m in u.pop("methods", [
                {"@odata.type":
                 "#microsoft.graph.passwordAuthenticationMethod"}])]
            u.setdefault("displayName", u.get("userPrincipalName"))
            u.setdefault("accountEnabled", True)
            u.setdefault("onPremisesSyncEnabled", None)
            u.setdefault("passwordPolicies", None)
            u.setdefault("lastPasswordChangeDateTime",
                         "2025-01-10T08:00:00Z")
            u.setdefault("userType", "Member")
            u.setdefault("createdDateTime", "2025-01-10T08:00:00Z")
            u.setdefault("signInActivity", None)
            users[u["id"].lower()] = (u, methods)
        groups = {}
        for gid, members in (body.get("groups") or {}).items():
            groups[gid.lower()] = [m.lower() for m in members]
        assignments = []
        for a in body.get("roleAssignments", []):
            a = dict(a)
            a.setdefault("id", _guid())
            a.setdefault("directoryScopeId", "/")
            a.setdefault("appScopeId", None)
            a.setdefault("condition", None)
            a.setdefault("roleDefinitionId", GLOBAL_ADMIN)
            assignments.append(a)
        denied = list(body.get("denied", []))
        for d in denied:
            if d not in DENIABLE:
                raise DirectoryError("denied: %r is none of %s"
                                     % (d, ", ".join(DENIABLE)))
        page = body.get("page_size", 100)
        if not isinstance(page, int) or page < 1:
            raise DirectoryError("page_size is a positive integer")
        self.users = users
        self.groups = groups
        self.assignments = assignments
        self.active = [_schedule(s, False)
                       for s in body.get("roleAssignmentSchedules", [])]
        self.eligible = [_schedule(s, True)
                         for s in body.get("roleEligibilitySchedules", [])]
        self.policies = [_policy(p) for p in body.get("policies", [])]
        self.page_size = page
        self.denied = denied
        return self.dump()

    def dump(self):
        return {"users": [dict(u, methods=m) for u, m in
                          self.users.values()],
                "groups": self.groups, "roleAssignments": self.assignments,
                "roleAssignmentSchedules": self.active,
                "roleEligibilitySchedules": self.eligible,
                "policies": self.policies, "page_size": self.page_size,
                "denied": self.denied}

    # -- answers: (status, body, rows)
    def answer(self, path, params, host):
        path = urllib.parse.unquote(path)
        for kind, rx in PATHS:
            m = rx.match(path)
            if m:
                return getattr(self, "_" + kind)(m, params, host, path)
        return _error(404, "Request_ResourceNotFound",
                      "Resource not found.") + (None,)

    def _deny(self, what):
        if what in self.denied:
            return _error(403, "Authorization_RequestDenied",
                          "Insufficient privileges to complete the "
                          "operation.") + (None,)
        return None

    def _user(self, m, params, host, path):
        key = m.group(1)
        sel = [s.strip() for s in params.get("$select", "").split(",")
               if s.strip()]
        if self._deny("users") or ("signInActivity" in sel and
                                   self._deny("signInActivity")):
            return self._deny("users") or self._deny("signInActivity")
        if "signInActivity" in sel and not GUID_RE.match(key):
            # The quirk of API-FACTS 5.3: by object id only.
            return _error(400, "BadRequest", "Get By Key only supports "
                          "UserId and the key has to be a valid "
                          "Guid") + (None,)
        found = self.users.get(key.lower())
        if found is None:
            for u, ms in self.users.values():
                if (u.get("userPrincipalName") or "").lower() == \
                        key.lower():
                    found = (u, ms)
        if found is None:
            return _error(404, "Request_ResourceNotFound",
                          "Resource '%s' does not exist or one of its "
                          "queried reference-property objects are not "
                          "present." % key) + (None,)
        u = found[0]
        fields = sel or USER_DEFAULT
        for f in fields:
            if f not in USER_FIELDS:
                return _error(400, "BadRequest", "Could not find a "
                              "property named '%s' on type "
                              "'microsoft.graph.user'." % f) + (None,)
        out = {"@odata.context": GRAPH_CONTEXT + "users(%s)/$entity"
               % ",".join(fields)}
        for f in fields:
            out[f] = copy.deepcopy(u.get(f))
        return 200, out, 1

    def _methods(self, m, params, host, path):
        if self._deny("methods"):
            return self._deny("methods")
        found = self.users.get(m.group(1).lower())
        if found is None:
            return _error(404, "Request_ResourceNotFound",
                          "Resource not found.") + (None,)
        return 200, {"@odata.context": GRAPH_CONTEXT + "users('%s')/"
                     "authentication/methods" % m.group(1),
                     "value": copy.deepcopy(found[1])}, len(found[1])

    def _filtered(self, items, params):
        """$filter of `prop eq 'value'` terms joined by `and`."""
        text = params.get("$filter")
        if not text:
            return items
        terms = re.split(r"\s+and\s+", text.strip())
        conds = []
        for t in terms:
            mm = re.match(r"^(\w+)\s+eq\s+'([^']*)'$", t.strip())
            if not mm:
                raise DirectoryError("Invalid filter clause: %s" % t)
            conds.append((mm.group(1), mm.group(2).lower()))
        return [i for i in items if all(
            str(i.get(k, "")).lower() == v for k, v in conds)]

    def _page(self, items, params, host, path, context):
        try:
            skip = int(base64.urlsafe_b64decode(
                params["$skiptoken"] + "==").decode()) \
                if "$skiptoken" in params else 0
        except (ValueError, UnicodeDecodeError):
            return _error(400, "BadRequest", "Invalid skip token.") + (None,)
        page = items[skip:skip + self.page_size]
        out = {"@odata.context": GRAPH_CONTEXT + context, "value": page}
        if skip + self.page_size < len(items):
            q = dict(params)
            q["$skiptoken"] = base64.urlsafe_b64encode(
                str(skip + self.page_size).encode()).decode().rstrip("=")
            out["@odata.nextLink"] = "https://%s%s?%s" % (
                host, path, urllib.parse.urlencode(
                    q, quote_via=urllib.parse.quote))
        return 200, out, len(page)

    def _roles(self, items, params, host, path, context):
        if self._deny("roles"):
            return self._deny("roles")
        try:
            items = self._filtered(copy.deepcopy(items), params)
        except DirectoryError as e:
            return _error(400, "BadRequest", str(e)) + (None,)
        if params.get("$expand") == "principal":
            for i in items:
                found = self.users.get(i["principalId"].lower())
                i["principal"] = {
                    "@odata.type": "#microsoft.graph.user",
                    "id": i["principalId"],
                    "userPrincipalName": found[0].get("userPrincipalName")
                } if found else {"@odata.type": "#microsoft.graph.group",
                                 "id": i["principalId"]}
        return self._page(items, params, host, path, context)

    def _roleAssignments(self, m, params, host, path):
        return self._roles(self.assignments, params, host, path,
                           "roleManagement/directory/roleAssignments")

    def _roleAssignmentSchedules(self, m, params, host, path):
        return self._roles(self.active, params, host, path,
                           "roleManagement/directory/"
                           "roleAssignmentSchedules")

    def _roleEligibilitySchedules(self, m, params, host, path):
        return self._roles(self.eligible, params, host, path,
                           "roleManagement/directory/"
                           "roleEligibilitySchedules")

    def _members(self, m, params, host, path):
        if self._deny("groups"):
            return self._deny("groups")
        gid = m.group(1).lower()
        if gid not in self.groups:
            return _error(404, "Request_ResourceNotFound",
                          "Resource '%s' does not exist." % gid) + (None,)
        items = [{"@odata.type": "#microsoft.graph.user", "id": mid}
                 for mid in self.groups[gid]]
        return self._page(items, params, host, path,
                          "directoryObjects(id)")

    def _policies(self, m, params, host, path):
        if self._deny("policies"):
            return self._deny("policies")
        return self._page(copy.deepcopy(self.policies), params, host, path,
                          "identity/conditionalAccess/policies")
