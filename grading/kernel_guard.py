"""The integrity guard that autograding puts inside each student's kernel (never imported by
the grader: ``grading/integrity.py`` sends this file's text in a cell it inserts first, before
any student code runs).

``install(shell, tests, key, bindings, roots)`` records the pristine state of everything the tests
rely on and makes ``__tmk_guard__(grade_id)`` available. Each test cell is executed as
``__tmk_guard__("<grade_id>")``, which

1. checks that state and puts it back (IPython's custom exception handler, AST and input
   transformers, event callbacks, display/traceback methods of the shell, the kernel and its
   session, ``sys`` hooks, builtins, the functions of numpy, ``math`` and ``operator``, the
   modules the lab's locked cells imported, e.g. ``np``);
2. runs the test's code object — compiled here from source that this function received once and
   that no cell history, ``linecache`` or file holds — inside its own ``try``: whether the test
   passed is recorded *here*, not read from how the kernel reports errors;
3. checks the state again (tampering *during* the test: a student function that installs a hook
   when it is called), and prints one signed verdict line (HMAC-SHA256 with a key only the grader
   and this closure know) that ``grading/integrity.py`` reads and removes;
4. re-raises the test's exception, so the student sees the usual error message.

Python offers no wall between code in one process: a student who studies this file can still try
to forge a verdict. What it does is make every generic trick (swallowing errors, replacing
comparisons) visible as a flag, and make a targeted attack on the guard itself a deliberate act.
"""

import builtins as _builtins_module
import functools
import hashlib
import hmac
import json
import sys
import types

MARK = "\u27e6tinymlkit-integrity\u27e7 "
# Modules whose functions tests rely on; their dicts are recorded and put back.
WATCHED = ("builtins", "numpy", "numpy.testing", "numpy.linalg", "math", "operator", "json",
           "IPython.core.interactiveshell", "IPython.core.ultratb", "IPython.core.displayhook",
           "ipykernel.ipkernel", "ipykernel.kernelbase", "ipykernel.zmqshell", "ipykernel.iostream",
           "ipykernel.displayhook", "jupyter_client.session", "traceback", "linecache")
# Modules the tests compute with: no change is accepted, however trusted its code looks.
STRICT = ("numpy", "numpy.testing", "numpy.linalg", "math", "operator", "json")
# Builtins the kernel itself swaps on every request (ipykernel's input/getpass forwarding).
KERNEL_BUILTINS = ("input", "raw_input", "getpass", "display", "get_ipython", "exit", "quit")
# Module name prefixes checked on first sight (loaded after setup, e.g. lazily by tinymlkit).
LATE_PREFIXES = ("numpy", "tinymlkit", "sklearn.metrics")
_CODE_TYPES = (types.FunctionType, types.MethodType, classmethod, staticmethod, property,
               types.BuiltinFunctionType, type)


def install(shell, tests, key, bindings, roots):
    """Record the pristine state and put ``__tmk_guard__`` into builtins.

    Args:
        shell: the kernel's InteractiveShell.
        tests: {grade_id: test source}.
        key: HMAC key (hex str) for the verdict lines.
        bindings: {name in the user namespace: module name} that the lab's locked cells import.
        roots: folders (str) whose Python files the student cannot write (the sandbox's read-only
            environment). A hook or function added later is the student's unless its code is there.
    """
    import linecache

    import numpy  # noqa: F401  (the tests' comparisons: recorded before any student code runs)
    import numpy.testing  # noqa: F401

    B = dict(vars(_builtins_module))            # pristine builtins, for the guard's own use
    _isinstance, _getattr, _setattr, _vars, _type, _id, _len = (
        B["isinstance"], B["getattr"], B["setattr"], B["vars"], B["type"], B["id"], B["len"])
    _sorted = B["sorted"]
    _list, _delattr, _hasattr, _callable, _str, _tuple, _set, _any = (
        B["list"], B["delattr"], B["hasattr"], B["callable"], B["str"], B["tuple"], B["set"], B["any"])
    roots = _tuple(_str(r).rstrip("/") + "/" for r in roots)
    kernel = _getattr(shell, "kernel", None)
    user_ns = shell.user_ns
    compiled = {gid: compile(shell.transform_cell(src), f"<test {gid}>", "exec") for gid, src in tests.items()}

    def _names(code):
        out = _set(code.co_names)
        for const in code.co_consts:
            if _isinstance(const, types.CodeType):
                out |= _names(const)
        return out

    test_names = {gid: _names(code) for gid, code in compiled.items()}
    lab_values = {}                     # {name: object} bound by the lab's locked cells
    user_builtins = user_ns.get("__builtins__")

    def _origin_is_trusted(value, depth=0):
        """True when ``value``'s code is in the read-only environment (or is C code)."""
        if depth > 5:
            return False
        inner = _getattr(value, "func", None) if _isinstance(value, functools.partial) else None
        if inner is not None:
            return _origin_is_trusted(inner, depth + 1)
        func = _getattr(value, "__func__", value)
        code = _getattr(func, "__code__", None)
        if code is not None:
            return code.co_filename.startswith(roots)
        if _isinstance(value, (types.BuiltinFunctionType, types.ModuleType)):
            return True
        cls = value if _isinstance(value, type) else _type(value)
        module = sys.modules.get(cls.__module__)
        filename = _getattr(module, "__file__", None)
        if filename is None:
            return cls.__module__ in ("builtins", "sys", "_io", "itertools", "_abc")
        return filename.startswith(roots)

    # (label, owner, attribute) of objects the kernel reports results through
    def _owned():
        return [("sys.stdout", sys, "stdout"), ("sys.stderr", sys, "stderr"),
                ("sys.excepthook", sys, "excepthook"), ("sys.displayhook", sys, "displayhook"),
                ("sys.__stdout__", sys, "__stdout__"), ("sys.__stderr__", sys, "__stderr__"),
                ("the shell's displayhook", shell, "displayhook"),
                ("the shell's display publisher", shell, "display_pub"),
                ("the shell's compiler", shell, "compile"), ("the shell's events", shell, "events"),
                ("the shell's input transformer manager", shell, "input_transformer_manager"),
                ("the shell's user namespace", shell, "user_ns"),
                ("the kernel", shell, "kernel"), ("the kernel's shell", kernel, "shell"),
                ("the kernel's session", kernel, "session"),
                ("the kernel's IOPub socket", kernel, "iopub_socket"),
                ("the kernel's request handlers", kernel, "shell_handlers")]

    owned = {label: _getattr(owner, attr) for label, owner, attr in _owned() if owner is not None}
    watched_objects = [v for v in owned.values() if v is not None and not _isinstance(v, (dict, types.ModuleType))]
    instance = {_id(o): {k: v for k, v in _vars(o).items() if _callable(v)} if _hasattr(o, "__dict__") else {}
                for o in watched_objects}
    classes = {}
    for obj in watched_objects:
        for cls in _type(obj).__mro__:
            if cls is not object and cls not in classes:
                classes[cls] = {k: v for k, v in _vars(cls).items() if _isinstance(v, _CODE_TYPES)}
    handlers = dict(owned.get("the kernel's request handlers") or {})
    # (label, getter) of the hook lists; each is recorded now and compared item by item later
    lists = [("an AST transformer (it can rewrite or wrap tests)", lambda: shell.ast_transformers),
             ("an input transformer (it can rewrite tests)", lambda: shell.input_transformers_cleanup),
             ("an input transformer (it can rewrite tests)", lambda: shell.input_transformers_post),
             ("an input transformer (it can rewrite tests)",
              lambda: shell.input_transformer_manager.cleanup_transforms),
             ("an input transformer (it can rewrite tests)", lambda: shell.input_transformer_manager.line_transforms),
             ("a token transformer (it can rewrite tests)",
              lambda: shell.input_transformer_manager.token_transformers),
             ("an import hook (sys.meta_path)", lambda: sys.meta_path),
             ("an import hook (sys.path_hooks)", lambda: sys.path_hooks)]
    lists += [(f"an IPython '{event}' event callback", lambda e=event: shell.events.callbacks[e])
              for event in shell.events.callbacks]
    lists = [(label, get, _list(get())) for label, get in lists]
    modules = {}

    def _record_module(name, module):
        modules[name] = (module, {k: v for k, v in _vars(module).items() if _isinstance(v, _CODE_TYPES) or _callable(v)})

    for name in WATCHED:
        if sys.modules.get(name) is not None:
            _record_module(name, sys.modules[name])
    custom_exc = (shell.custom_exceptions, shell.CustomTB)
    trace = (sys.gettrace(), sys.getprofile())
    audit = []
    restoring = [False]

    def _hook(event, args):
        if not restoring[0] and event in ("sys.settrace", "sys.setprofile", "sys._setprofileallthreads",
                                          "sys._settraceallthreads") and args and args[0] is not None:
            audit.append(f"{event}() was called: a trace function can skip a test's lines")

    sys.addaudithook(_hook)

    def check():
        """What was changed since setup (a list of plain-words findings); everything is put back."""
        found = []
        restoring[0] = True
        try:
            for label, owner, attr in _owned():
                if owner is None or label not in owned:
                    continue
                value = _getattr(owner, attr, None)
                if value is not owned[label]:
                    if _origin_is_trusted(value):
                        owned[label] = value       # the kernel's own doing (e.g. per-request hooks)
                    else:
                        found.append(f"{label} was replaced")
                        _setattr(owner, attr, owned[label])
            if (shell.custom_exceptions, shell.CustomTB) != custom_exc:
                found.append("a custom exception handler was set (set_custom_exc): it hides failed tests")
                shell.custom_exceptions, shell.CustomTB = custom_exc
            if (sys.gettrace(), sys.getprofile()) != trace:
                found.append("a trace or profile function was set (sys.settrace/setprofile)")
                sys.settrace(trace[0])
                sys.setprofile(trace[1])
            while audit:
                found.append(audit.pop(0))
            for label, get, before in lists:
                now = get()
                before_ids = _set(map(_id, before))
                added = [v for v in now if _id(v) not in before_ids and not _origin_is_trusted(v)]
                now_ids = _set(map(_id, now))
                removed = [v for v in before if _id(v) not in now_ids]
                if added or removed:
                    found.append(f"{label} was {'added' if added else 'removed'}")
                    keep = [v for v in now if _id(v) in before_ids or _origin_is_trusted(v)]
                    now[:] = before + [v for v in keep if _id(v) not in before_ids]
            handlers_now = owned.get("the kernel's request handlers")
            if _isinstance(handlers_now, dict):
                for k, v in handlers.items():
                    if handlers_now.get(k) is not v:
                        found.append(f"the kernel's '{k}' handler was replaced")
                        handlers_now[k] = v
            for obj in watched_objects:
                if not _hasattr(obj, "__dict__"):
                    continue
                recorded = instance[_id(obj)]
                methods = _set()
                for cls in _type(obj).__mro__:
                    methods.update(k for k, v in _vars(cls).items() if _isinstance(v, _CODE_TYPES))
                for attr, value in _list(_vars(obj).items()):
                    if attr in methods and _callable(value) and recorded.get(attr) is not value \
                            and not _origin_is_trusted(value):
                        found.append(f"{_type(obj).__name__}.{attr} of the running kernel was replaced")
                        if attr in recorded:
                            _vars(obj)[attr] = recorded[attr]
                        else:
                            _delattr(obj, attr)
            for cls, recorded in classes.items():
                now = _vars(cls)
                for attr, value in _list(recorded.items()):
                    if now.get(attr) is not value:
                        if attr in now and _origin_is_trusted(now[attr]):
                            recorded[attr] = now[attr]
                            continue
                        found.append(f"{cls.__module__}.{cls.__name__}.{attr} was replaced")
                        _setattr(cls, attr, value)
                for attr, value in _list(now.items()):
                    if attr not in recorded and _isinstance(value, _CODE_TYPES) and not _origin_is_trusted(value):
                        found.append(f"{cls.__module__}.{cls.__name__}.{attr} was added")
                        _delattr(cls, attr)
            for name, module in _list(sys.modules.items()):
                if name not in modules and module is not None and name.startswith(LATE_PREFIXES):
                    for attr, value in _list(_vars(module).items()):   # first sight: nothing of the notebook's
                        if _isinstance(value, types.FunctionType) and _getattr(value, "__module__", None) == name \
                                and not _origin_is_trusted(value):
                            found.append(f"{name}.{attr} was replaced by code from the notebook")
                    _record_module(name, module)
            for name, (module, recorded) in modules.items():
                if sys.modules.get(name) is not module:
                    found.append(f"sys.modules['{name}'] was replaced")
                    sys.modules[name] = module
                now = _vars(module)
                for attr, value in _list(recorded.items()):
                    if now.get(attr) is not value:
                        if attr in now and name not in STRICT and not name.startswith(LATE_PREFIXES) \
                                and _origin_is_trusted(now[attr]):
                            recorded[attr] = now[attr]
                            continue
                        found.append(f"{name}.{attr} was {'replaced' if attr in now else 'deleted'}")
                        now[attr] = value
            for name, module_name in bindings.items():
                module = sys.modules.get(module_name)
                if module is not None and name in user_ns and user_ns[name] is not module:
                    found.append(f"'{name}' no longer names the module {module_name}")
                    user_ns[name] = module
            now = _vars(_builtins_module)
            for name, value in _list(B.items()):
                if name not in ("_", "__tmk_guard__") and now.get(name) is not value:
                    if name in now and name in KERNEL_BUILTINS and _origin_is_trusted(now[name]):
                        B[name] = now[name]
                        continue
                    found.append(f"builtins.{name} was {'replaced' if name in now else 'deleted'}")
                    now[name] = value
            now["__tmk_guard__"] = guard
        finally:
            restoring[0] = False
        seen = _set()
        return [f for f in found if not (f in seen or seen.add(f))]

    counter = [0]
    active = [False]
    stdout = owned["sys.stdout"]

    def names_check(grade_id):
        """Names the test uses must mean what the lab made them mean: its locked cells' values
        and the builtins (a global ``isinstance = lambda *a: True`` would answer for it)."""
        found = []
        if user_ns.get("__builtins__") is not user_builtins:
            found.append("the notebook's __builtins__ was replaced")
            user_ns["__builtins__"] = user_builtins
        for name in _sorted(test_names.get(grade_id, ())):
            if name in lab_values and user_ns.get(name) is not lab_values[name]:
                found.append(f"the lab's variable '{name}', which this test uses, was changed by the notebook")
                user_ns[name] = lab_values[name]
            elif (name in B and not name.startswith("__") and name not in lab_values and name in user_ns
                  and user_ns[name] is not B[name]):
                found.append(f"a global named '{name}' hides the builtin this test uses")
                del user_ns[name]
        return found

    def snapshot(names):
        """Record the values a locked cell bound (an inserted cell runs this after it)."""
        for name in names:
            if name in user_ns:
                lab_values[name] = user_ns[name]

    def guard(grade_id):
        """Run the test ``grade_id`` under the guard (the test cell's only line at autograde time)."""
        if active[0]:
            audit.append("the test guard was called from the notebook's code during a test")
            return
        counter[0] += 1
        active[0] = True
        try:
            before = check() + names_check(grade_id)
            error, code = None, compiled.get(grade_id)
            if code is None:
                error = LookupError(f"unknown test {grade_id!r}")
            else:
                bound = {name: user_ns.get(name) for name in lab_values}
                try:
                    exec(code, user_ns)
                except BaseException as exc:  # noqa: B902 - every failure, KeyboardInterrupt (timeout) too
                    error = exc
                for name, value in bound.items():     # what the test itself binds is the lab's too
                    if user_ns.get(name) is not value and name in user_ns:
                        lab_values[name] = user_ns[name]
            during = check()
        finally:
            active[0] = False
        verdict = {"grade_id": grade_id, "seq": counter[0], "passed": error is None,
                   "error": None if error is None else f"{_type(error).__name__}: {error}"[:300],
                   "before": before, "during": during}
        body = json.dumps(verdict, sort_keys=True)
        mac = hmac.new(bytes.fromhex(key), body.encode(), hashlib.sha256).hexdigest()
        stdout.write("\n" + MARK + json.dumps({"verdict": verdict, "mac": mac}, sort_keys=True) + "\n")
        stdout.flush()
        if error is not None:
            raise error.with_traceback(None)

    guard.snapshot = snapshot
    B["__tmk_guard__"] = guard
    _vars(_builtins_module)["__tmk_guard__"] = guard

    # Forget this cell: its source holds every hidden test.
    hist = shell.history_manager
    for seq in (user_ns.get("_ih"), user_ns.get("In"), hist.input_hist_parsed, hist.input_hist_raw):
        if seq:
            seq[-1] = ""
    for name in ("_i", "_ii", "_iii", f"_i{shell.execution_count}"):
        if name in user_ns:
            user_ns[name] = ""
    for cache in (linecache.cache, _getattr(linecache, "_ipython_cache", {})):
        for filename, entry in _list(cache.items()):
            lines = entry[2] if _isinstance(entry, _tuple) and _len(entry) > 2 else ()
            if _any("__tmk_setup__" in line for line in lines or ()):
                del cache[filename]
