"""Reading ``state.show_sls`` output: a state's arguments by name."""


def state_arg(state, function, key):
    """The value of argument *key* of a rendered state under *function* ("file", "pkg" …)."""
    return next(arg[key] for arg in state[function] if isinstance(arg, dict) and key in arg)


def state_args(states, state_id, fun):
    """Every argument of state *state_id*, which must call *fun* ("host_identity.present")."""
    (module, _), = ((k, v) for k, v in states[state_id].items() if not k.startswith("__"))
    assert module == fun.split(".")[0]
    args = {}
    for arg in states[state_id][module]:
        if isinstance(arg, dict):
            args.update(arg)
        else:
            assert arg == fun.split(".")[1]
    return args
