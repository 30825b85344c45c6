"""An allow-listed pickle interpreter: the shared core of the safe readers.

This module owns interpreting one pickle stream into inert values without
`pickle.Unpickler`, without importing anything the file names and without
running anything from it. `official_pickle` (StyleGAN2-ADA snapshots) and
`torch_file` (`torch.save` checkpoints) are front ends: each passes a
`find_global` that maps the globals its format may name to our own inert
stand-ins, and translates this module's errors into its own family.

How it stays safe and bounded:

* `pickletools.genops` decodes the opcodes; `run` interprets each one itself.
  Opcodes outside a short allowlist (no `INST`, `OBJ`, `NEWOBJ_EX`, `EXT*`,
  `PERSID`, ...) are refused, and so is a global that `find_global` does not
  know, as soon as it is named.
* `REDUCE`/`NEWOBJ` only ever call a `Call` (our function); `BUILD` only
  sets a numpy dtype's byte order or accepts a dict's empty state or torch's
  state-dict `_metadata` (dropped).
* Limits keep hostile files from costing more than a real file of their size:
  containers nest at most `MAX_DEPTH` deep (as built), the memo holds at most
  `MAX_MEMO` entries, dict keys and set members are only numbers, strings,
  bytes, None and short flat tuples of them (so hashing is linear), and the
  stand-ins' calls together copy at most twice the pickle's size. Front ends
  bound their own walks and tensor bytes.
* `describe` and `clip` say what a value is in a few dozen characters and
  never recurse, so no message can `repr` a huge or deep object.
"""

import dataclasses
import io
import itertools
import pickletools
import re
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, NoReturn

import numpy as np

# Containers may nest this deep as they are built (real files: under 10).
MAX_DEPTH = 100
# Memo entries per pickle (a torch state dict uses about 9 per tensor).
MAX_MEMO = 1 << 20
# Longest tuple accepted as a dict key or set member.
MAX_KEY_ITEMS = 16

REFUSED = "the file was refused and nothing from it was run"

# --------------------------------------------------------------------------
# Errors. Front ends translate these into their own public families.


class SafePickleError(ValueError):
  """Base class of what `run` and the stand-ins raise."""


class RefusedError(SafePickleError):
  """A global or opcode outside the allowlist; nothing ran."""


class MalformedError(SafePickleError):
  """Not a well-formed pickle, or values of the wrong form for the format."""


class LimitError(SafePickleError):
  """Over a limit that no real file of the format reaches."""


def limit_error(at: str, what: str, kind: str) -> LimitError:
  """A `LimitError` saying what limit `at` hit and that `kind` never does."""
  return LimitError(f"{at}: {what}; that is not a valid {kind}, so {REFUSED}")


# --------------------------------------------------------------------------
# Short, non-recursive descriptions for messages.

_SCALARS = (type(None), bool, int, float, str, bytes)


def clip(text: str, limit: int = 200) -> str:
  """`text` for a message: as is when short and printable, else clipped."""
  if len(text) <= limit and text.isprintable():
    return text
  return repr(text[:limit]) + ("..." if len(text) > limit else "")


def short_repr(x: Any) -> str:
  """A bounded `repr` of a scalar or flat tuple; other values by type."""
  if isinstance(x, (str, bytes)):
    return repr(x[:60]) + ("..." if len(x) > 60 else "")
  if isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > 64:
    return f"<int of {x.bit_length()} bits>"  # repr may refuse huge ints.
  if isinstance(x, _SCALARS):
    return repr(x)
  if isinstance(x, tuple) and len(x) <= 8 and all(
      isinstance(v, _SCALARS) for v in x
  ):
    items = [short_repr(v) for v in x]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
  return describe(x)


def describe(x: Any) -> str:
  """What `x` is, in a few words (dict keys: the first 8, sorted).

  Our records say what they stand for with a class attribute `describe_as`
  (e.g. 'a tensor').
  """
  described = getattr(type(x), "describe_as", None)
  if isinstance(described, str):
    return described
  if isinstance(x, dict):
    first = sorted(short_repr(k) for k in itertools.islice(x, 8))
    more = ", ..." if len(x) > 8 else ""
    return f"a dict with keys [{', '.join(first)}{more}]"
  if isinstance(x, (list, tuple, set, frozenset)):
    return f"a {type(x).__name__} of {len(x)} items"
  return f"a {type(x).__name__}"


def check_key(key: Any, what: str, at: str, kind: str) -> None:
  """Refuses a dict key or set member that could make hashing costly."""
  if isinstance(key, _SCALARS) or (
      isinstance(key, tuple)
      and len(key) <= MAX_KEY_ITEMS
      and all(isinstance(k, _SCALARS) for k in key)
  ):
    return
  raise limit_error(
      at,
      f"{what} is {describe(key)}; only numbers, strings, bytes, None and "
      f"flat tuples of up to {MAX_KEY_ITEMS} of them may be keys",
      kind,
  )


# --------------------------------------------------------------------------
# Stand-ins: the only things a global can resolve to.


@dataclasses.dataclass(frozen=True, eq=False)
class Call:
  """Our own function standing in for an allowlisted callable global."""

  describe_as: ClassVar[str] = "a global"
  qualname: str
  fn: Callable[[tuple[Any, ...], str], Any]  # (args, where) -> value
  newobj: bool = False  # May be the class of a NEWOBJ.


@dataclasses.dataclass(eq=False)
class DType:
  """A numpy dtype under construction (`numpy.dtype` REDUCE, then BUILD)."""

  describe_as: ClassVar[str] = "a numpy dtype"
  name: str
  byteorder: str = "="


FindGlobal = Callable[[str, str, str], Any]  # (module, name, where) -> value


def is_int(x: Any) -> bool:
  return isinstance(x, int) and not isinstance(x, bool)


def is_str(x: Any, value: str) -> bool:
  return isinstance(x, str) and x == value


def empty_hooks(x: Any) -> bool:
  return isinstance(x, dict) and not x


def check_arity(qualname: str, args: Any, where: str, *counts: int) -> None:
  if not isinstance(args, tuple) or len(args) not in counts:
    got = len(args) if isinstance(args, tuple) else type(args).__name__
    raise MalformedError(
        f"{where}: {qualname} called with {got} arguments; expected "
        f"{' or '.join(map(str, counts))}"
    )


def make_dict(items: Any, qualname: str, where: str, kind: str) -> dict:
  """A dict from a dict or a list of pairs, keys checked before hashing."""
  if isinstance(items, dict):
    return dict(items)  # Keys were checked when `items` was built.
  if isinstance(items, (list, tuple)) and all(
      isinstance(p, (list, tuple)) and len(p) == 2 for p in items
  ):
    for key, _ in items:
      check_key(key, f"a {qualname} key", where, kind)
    return dict(items)
  raise MalformedError(f"{where}: {qualname} of {describe(items)}")


def _ordered_dict(kind: str) -> Call:
  def fn(args: tuple[Any, ...], where: str) -> dict[Any, Any]:
    check_arity("collections.OrderedDict", args, where, 0, 1)
    return make_dict(args[0], "OrderedDict", where, kind) if args else {}

  return Call("collections.OrderedDict", fn)


def _make_set(kind: str, frozen: bool) -> Call:
  qualname = "builtins.frozenset" if frozen else "builtins.set"

  def fn(args: tuple[Any, ...], where: str) -> set[Any] | frozenset[Any]:
    check_arity(qualname, args, where, 0, 1)
    items = args[0] if args else []
    if not isinstance(items, (list, tuple, set, frozenset)):
      raise MalformedError(f"{where}: {qualname} of {describe(items)}")
    for item in items:
      check_key(item, "a set member", where, kind)
    return frozenset(items) if frozen else set(items)

  return Call(qualname, fn)


_DTYPE_NAME = re.compile(r"^[<>|=]?(f[248]|i[1248]|u[1248]|b1|\?)$")


def _numpy_dtype(args: tuple[Any, ...], where: str) -> DType:
  check_arity("numpy.dtype", args, where, 1, 3)
  name = args[0]
  if not isinstance(name, str) or not _DTYPE_NAME.match(name):
    raise MalformedError(
        f"{where}: numpy dtype {short_repr(name)} is not a plain number dtype"
    )
  return DType(name)


def _numpy_scalar(args: tuple[Any, ...], where: str) -> int | float | bool:
  check_arity("numpy scalar", args, where, 2)
  dtype, raw = args
  if not isinstance(dtype, DType) or not isinstance(raw, bytes):
    raise MalformedError(f"{where}: numpy scalar of unexpected form")
  dt = np.dtype(dtype.name).newbyteorder(dtype.byteorder)
  if len(raw) != dt.itemsize:
    raise MalformedError(f"{where}: numpy scalar with wrong byte count")
  return np.frombuffer(raw, dt, count=1)[0].item()


def _latin1_encode(args: tuple[Any, ...], where: str) -> bytes:
  # Protocol 2 writes every non-empty bytes object as
  # _codecs.encode(text, 'latin1').
  check_arity("_codecs.encode", args, where, 2)
  text, encoding = args
  if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
    raise MalformedError(f"{where}: _codecs.encode other than latin1")
  return text.encode("latin-1")


def _empty_bytes(args: tuple[Any, ...], where: str) -> bytes:
  check_arity("builtins.bytes", args, where, 0)  # Protocol 2's b''.
  return b""


def common_globals(kind: str) -> dict[tuple[str, str], Call]:
  """Inert stand-ins for the plain-data globals any of our formats may use.

  Args:
    kind: the format, for messages (e.g. 'torch.save state dict').

  Returns:
    (module, name) -> stand-in: `collections.OrderedDict` (a dict), `set`,
    `frozenset`, `bytes`, `_codecs.encode` and numpy scalars/dtypes (Python
    numbers).
  """
  calls = [
      _ordered_dict(kind),
      _make_set(kind, frozen=False),
      _make_set(kind, frozen=True),
      Call("builtins.bytes", _empty_bytes),
      Call("_codecs.encode", _latin1_encode),
      Call("numpy.dtype", _numpy_dtype),
      Call("numpy._core.multiarray.scalar", _numpy_scalar),  # numpy 2
      Call("numpy.core.multiarray.scalar", _numpy_scalar),  # numpy 1
  ]
  return {tuple(c.qualname.rsplit(".", 1)): c for c in calls}


def refuse_global(module: str, name: str, where: str, kind: str) -> NoReturn:
  raise RefusedError(
      f"{where}: refused global {clip(f'{module}.{name}')}: it is not on the "
      f"allowlist of globals a {kind} uses; {REFUSED}"
  )


def table_lookup(table: dict[tuple[str, str], Any], kind: str) -> FindGlobal:
  """A `find_global` that looks names up in `table` and refuses the rest."""

  def find_global(module: str, name: str, where: str) -> Any:
    found = table.get((module, name))
    if found is None:
      refuse_global(module, name, where, kind)
    return found

  return find_global


# --------------------------------------------------------------------------
# The interpreter.

# Protocol-2 streams name Python 2 modules (the Unpickler's fix_imports).
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}

_SAFE_OPCODES = frozenset((
    # Framing, memo and stack.
    "PROTO", "FRAME", "STOP", "MARK", "MEMOIZE", "BINPUT", "LONG_BINPUT",
    "BINGET", "LONG_BINGET",
    # Calls: only ever on our stand-ins (see `find_global` and REDUCE).
    "GLOBAL", "STACK_GLOBAL", "REDUCE", "NEWOBJ", "BUILD", "BINPERSID",
    # Containers.
    "EMPTY_DICT", "SETITEM", "SETITEMS", "EMPTY_LIST", "APPEND", "APPENDS",
    "EMPTY_SET", "ADDITEMS", "FROZENSET", "EMPTY_TUPLE", "TUPLE", "TUPLE1",
    "TUPLE2", "TUPLE3",
    # Scalars, strings and bytes.
    "NONE", "NEWTRUE", "NEWFALSE", "BININT", "BININT1", "BININT2", "LONG1",
    "LONG4", "BINFLOAT", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8",
    "SHORT_BINBYTES", "BINBYTES", "BINBYTES8", "BYTEARRAY8",
))

_CONTAINERS = (dict, list, tuple, set, frozenset)
_SIZED = (*_CONTAINERS, str, bytes)


def _items(x: Any) -> Iterable[Any]:
  return x.values() if isinstance(x, dict) else x


def _is_state_dict_metadata(state: Any) -> bool:
  """torch writes a state dict's `_metadata` (versions) as BUILD state."""
  return (
      isinstance(state, dict)
      and len(state) == 1
      and isinstance(state.get("_metadata"), dict)
  )


def run(
    stream: io.BytesIO,
    find_global: FindGlobal,
    *,
    kind: str,
    where: str,
    persistent_load: Callable[[Any], Any] | None = None,
) -> Any:
  """Interprets one pickle from `stream` (up to its STOP) without running it.

  Args:
    stream: positioned at the pickle's first byte; left just after its STOP.
    find_global: (module, name, where) -> our stand-in for that global; it
      raises for anything not allowlisted.
    kind: the format being read, for messages ('torch.save state dict').
    where: what is being read, for messages.
    persistent_load: called on a BINPERSID's id; None refuses BINPERSID.

  Returns:
    The unpickled value, built only from stdlib containers, numbers, strings,
    bytes and what the stand-ins return.

  Raises:
    RefusedError: a global or opcode outside the allowlist.
    LimitError: nesting, memo or keys beyond the module's limits.
    MalformedError: not a well-formed pickle (truncated, corrupt, ...).
  """
  stack: list[Any] = []
  marks: list[int] = []
  memo: dict[int, Any] = {}
  # Depth of each container deeper than 1, as built. Holding the object keeps
  # its id from being reused. A container filled after it was nested can
  # make an ancestor deeper than recorded; the front ends' walks have their
  # own depth guards, and nothing here recurses into values.
  deep: dict[int, tuple[Any, int]] = {}
  pos = stream.tell()
  at = where
  # Stand-ins copy their arguments (OrderedDict(pairs), set(items), ...):
  # each copy costs the length of what it copies, and all copies together
  # may cost at most twice the bytes left in the stream, so memoized
  # arguments cannot be copied over and over.
  max_work = 2 * (stream.seek(0, io.SEEK_END) - pos) + 4096
  stream.seek(pos)
  work = 0

  def depth(x: Any) -> int:
    if isinstance(x, _CONTAINERS):
      entry = deep.get(id(x))
      return entry[1] if entry else 1
    return 0

  def grow(container: Any, items: Iterable[Any]) -> Any:
    d = 1 + max(map(depth, items), default=0)
    if d > 1 and d > depth(container):
      if d > MAX_DEPTH:
        raise limit_error(
            at, f"values nested more than {MAX_DEPTH} levels deep", kind
        )
      deep[id(container)] = (container, d)
    return container

  def keys(items: Iterable[Any], what: str) -> None:
    for key in items:
      check_key(key, what, at, kind)

  def pop_mark() -> list[Any]:
    if not marks:
      raise MalformedError(f"{at}: no MARK to pop")
    start = marks.pop()
    items = stack[start:]
    del stack[start:]
    return items

  def top(cls: type[Any], op: str) -> Any:
    if not stack or not isinstance(stack[-1], cls):
      raise MalformedError(f"{at}: {op} on wrong type")
    return stack[-1]

  def put(index: int) -> None:
    if index not in memo and len(memo) >= MAX_MEMO:
      raise limit_error(at, f"more than {MAX_MEMO} memo entries", kind)
    memo[index] = stack[-1]

  try:
    for index, (opcode, arg, pos) in enumerate(pickletools.genops(stream)):
      name = opcode.name
      at = f"{where} (byte {pos})"
      if index == 0 and (name != "PROTO" or not 2 <= arg <= 5):
        raise MalformedError(
            f"{at}: expected a pickle of protocol 2 to 5, found {name}"
        )
      if name not in _SAFE_OPCODES or (
          name == "BINPERSID" and persistent_load is None
      ):
        raise RefusedError(
            f"{at}: refused opcode {name}: it is not on the allowlist of "
            f"opcodes a {kind} uses; {REFUSED}"
        )
      if name in ("PROTO", "FRAME"):
        if name == "PROTO" and index:
          raise MalformedError(f"{at}: PROTO in mid-stream")
      elif name == "STOP":
        if len(stack) != 1 or marks:
          raise MalformedError(f"{at}: STOP with a stack of {len(stack)}")
        return stack[0]
      elif name == "MARK":
        marks.append(len(stack))
      elif name == "MEMOIZE":
        put(len(memo))
      elif name in ("BINPUT", "LONG_BINPUT"):
        put(arg)
      elif name in ("BINGET", "LONG_BINGET"):
        if arg not in memo:
          raise MalformedError(f"{at}: memo has no entry {arg}")
        stack.append(memo[arg])
      elif name in ("GLOBAL", "STACK_GLOBAL"):
        if name == "GLOBAL":
          module, _, attr = arg.partition(" ")
        else:
          attr = stack.pop()
          module = stack.pop()
        if not isinstance(module, str) or not isinstance(attr, str):
          raise MalformedError(f"{at}: global named by non-strings")
        module = _PY2_MODULES.get(module, module)
        stack.append(find_global(module, attr, at))
      elif name in ("REDUCE", "NEWOBJ"):
        args = stack.pop()
        fn = stack.pop()
        if not (isinstance(fn, Call) and (name == "REDUCE" or fn.newobj)):
          what = getattr(fn, "qualname", None) or type(fn).__name__
          raise RefusedError(
              f"{at}: refused opcode {name} on {clip(what)}: not allowlisted "
              f"as callable there; {REFUSED}"
          )
        if not isinstance(args, tuple):
          raise MalformedError(f"{at}: {name} arguments are not a tuple")
        work += len(args) + sum(len(a) for a in args if isinstance(a, _SIZED))
        if work > max_work:
          raise limit_error(
              at,
              "calls copy more than twice the pickle's size (the same "
              "argument passed over and over)",
              kind,
          )
        result = fn.fn(args, at)
        if isinstance(result, _CONTAINERS):
          grow(result, _items(result))
        stack.append(result)
      elif name == "BUILD":
        state = stack.pop()
        obj = top(object, name)
        if (
            isinstance(obj, DType)
            and isinstance(state, tuple)
            and len(state) > 1
            and state[1] in ("<", ">", "|", "=")
        ):
          obj.byteorder = state[1]
        elif not isinstance(obj, dict) or not (
            state is None
            or empty_hooks(state)
            or _is_state_dict_metadata(state)
        ):
          raise RefusedError(
              f"{at}: refused opcode BUILD on {type(obj).__name__}: only a "
              f"numpy dtype's or a state dict's state is expected; {REFUSED}"
          )
      elif name == "BINPERSID":
        stack.append(persistent_load(stack.pop()))
      elif name == "EMPTY_DICT":
        stack.append({})
      elif name == "EMPTY_LIST":
        stack.append([])
      elif name == "EMPTY_SET":
        stack.append(set())
      elif name == "EMPTY_TUPLE":
        stack.append(())
      elif name == "SETITEM":
        value = stack.pop()
        key = stack.pop()
        keys([key], "a dict key")
        grow(top(dict, name), [value])[key] = value
      elif name == "SETITEMS":
        items = pop_mark()
        if len(items) % 2:
          raise MalformedError(f"{at}: SETITEMS with an odd count")
        keys(items[::2], "a dict key")
        grow(top(dict, name), items[1::2]).update(
            zip(items[::2], items[1::2])
        )
      elif name == "APPEND":
        value = stack.pop()
        grow(top(list, name), [value]).append(value)
      elif name == "APPENDS":
        items = pop_mark()
        grow(top(list, name), items).extend(items)
      elif name == "ADDITEMS":
        items = pop_mark()
        keys(items, "a set member")
        top(set, name).update(items)
      elif name == "FROZENSET":
        items = pop_mark()
        keys(items, "a set member")
        stack.append(frozenset(items))
      elif name in ("TUPLE", "TUPLE1", "TUPLE2", "TUPLE3"):
        if name == "TUPLE":
          items = pop_mark()
        else:
          n = int(name[-1])
          if len(stack) < n:
            raise MalformedError(f"{at}: {name} on a short stack")
          items = stack[-n:]
          del stack[-n:]
        stack.append(grow(tuple(items), items))
      elif name == "NONE":
        stack.append(None)
      elif name in ("NEWTRUE", "NEWFALSE"):
        stack.append(name == "NEWTRUE")
      elif name == "BYTEARRAY8":
        stack.append(bytes(arg))
      else:  # Numbers, strings and bytes: the decoded argument itself.
        stack.append(arg)
  except SafePickleError:
    raise
  except (ValueError, IndexError, KeyError, TypeError, RecursionError,
          OverflowError) as e:
    # pickletools reports unknown opcodes and truncated arguments as
    # ValueError; a hostile stack shape gives IndexError/TypeError.
    raise MalformedError(
        f"{where}: not a readable pickle (corrupt or truncated) at byte "
        f"{pos}: {clip(str(e), 120)}"
    ) from e
  raise MalformedError(
      f"{where}: not a readable pickle (corrupt or truncated): it ended "
      "without STOP"
  )
