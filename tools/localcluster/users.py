"""Who can talk to the local control plane: the one table of test users, and component identities.

Every entry becomes a line of the API server's `--token-auth-file` with a random token minted per
cluster. Test users also get a context of their own name in `DIR/kubeconfig`, so
`kubectl --kubeconfig DIR/kubeconfig --context alpha-admin ...` acts as that user. To add a test
user, add a row to TEST_USERS; nothing else changes.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenUser:
    """A user authenticated by a static bearer token, with the groups RBAC sees."""

    name: str
    groups: tuple[str, ...]


ADMIN_USER = "platform-admin"

TEST_USERS: tuple[TokenUser, ...] = (
    TokenUser(ADMIN_USER, ("system:masters",)),
    TokenUser("alpha-admin", ("alpha-admins",)),
    TokenUser("alpha-viewer", ("alpha-viewers",)),
    TokenUser("beta-admin", ("beta-admins",)),
    TokenUser("beta-viewer", ("beta-viewers",)),
    # The identity that applies tenantctl's generated manifests; deliberately not system:masters.
    TokenUser("platform-applier", ("tenantctl-appliers",)),
)

# Control-plane components run as the user names Kubernetes' bootstrap RBAC already binds;
# kwok fakes kubelets for every node and pod, so it needs cluster-wide rights.
KUBE_CONTROLLER_MANAGER_USER = TokenUser("system:kube-controller-manager", ())
KUBE_SCHEDULER_USER = TokenUser("system:kube-scheduler", ())
KWOK_USER = TokenUser("kwok-controller", ("system:masters",))

COMPONENT_USERS: tuple[TokenUser, ...] = (
    KUBE_CONTROLLER_MANAGER_USER,
    KUBE_SCHEDULER_USER,
    KWOK_USER,
)
