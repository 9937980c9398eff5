"""Round-robin: the k-th arrival goes to instance k mod N; no migration."""


def dispatch(view, request):
    return request.rid % view.n_instances
