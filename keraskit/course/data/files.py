"""Where the course looks for dataset files: one search order for every dataset.

A dataset's files are looked for, in order, in:
1. `$KERASKIT_DATA_DIR/<folder>`, then `$KERASKIT_DATA_DIR` itself (files you put there);
2. Keras's download cache, where `keras.datasets` leaves them: `$KERAS_HOME/datasets`
   when `KERAS_HOME` is set, else `~/.keras/datasets` (`/tmp/.keras/datasets` when the
   home folder is not writable), then `/tmp/.keras/datasets` when the cache folder itself
   is not writable, since Keras's `get_file` downloads there instead;
3. system-wide copies, e.g. `/usr/share/datasets/fashion-mnist` (Debian's package).
Only when none holds every file does a loader ask Keras to download them, and
`download_or_explain` turns a failed download into an error that lists these folders.
"""

import os
import tempfile
from pathlib import Path


class DatasetUnavailableError(OSError):
    """A dataset is neither on this machine nor downloadable (e.g. offline).

    An `OSError`, so code that already handles missing files handles it too; the
    message lists the folders searched and which files to put where.

    Example:

    >>> issubclass(DatasetUnavailableError, OSError)
    True
    """


def _writable(path):
    return os.access(path, os.W_OK)


def _creatable(path):
    """Writable, or missing but creatable: Keras creates its home folder when imported."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path.is_dir() and _writable(path)


def keras_datasets_folders():
    """The folders where Keras caches downloaded datasets, the one it uses first.

    Follows Keras 3, so that a file Keras downloaded is found here:
    `keras/src/backend/config.py` sets Keras's home to `$KERAS_HOME` when that
    variable is set, else to `~/.keras`, or to `/tmp/.keras` when the home
    folder is not writable; `keras.utils.get_file` then stores datasets in its
    `datasets` subfolder, or in `/tmp/.keras/datasets` when Keras's home is
    not writable. Keras creates its home when imported, so a missing one that
    can be created counts as writable. When it is not, both folders are
    returned: the configured one may still hold files put there by hand.

    Keras reads `KERAS_HOME` once, when it is imported, and this function at
    each call: set it before importing Keras (as for `KERAS_BACKEND`) for
    both to agree.

    Returns:
        A list of one or two `pathlib.Path` folders.

    Example:

    >>> folders = keras_datasets_folders()
    >>> [folder.name for folder in folders][:1]
    ['datasets']
    """
    if "KERAS_HOME" in os.environ:  # set, even to "": Keras then uses it as it is
        home = os.environ["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        home = os.path.join(home if _writable(home) else "/tmp", ".keras")
    home = os.path.expanduser(home)
    folders = [Path(home) / "datasets"] if home else []
    if not (home and _creatable(home)):  # get_file downloads to /tmp instead
        temporary = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
        folders.append(Path(temporary) / ".keras" / "datasets")
    return list(dict.fromkeys(folders))


def dataset_search_path(folder, keras_folders=None, system_folders=()):
    """The folders searched for one dataset's files, in the order they are searched.

    `$KERASKIT_DATA_DIR/<folder>` and `$KERASKIT_DATA_DIR` (when that variable
    is set), then each of `keras_folders` inside each of
    `keras_datasets_folders()` (Keras's cache, which follows `$KERAS_HOME`),
    then `system_folders`. Duplicates are dropped.

    Args:
        folder: name of the folder holding the files, e.g. `"fashion-mnist"`.
        keras_folders: where `keras.datasets` leaves that folder, relative to
            its `datasets` cache, e.g.
            `["cifar-10-batches-py-target/cifar-10-batches-py"]`. Defaults to
            `[folder]`.
        system_folders: folders searched last, e.g. Debian's
            `["/usr/share/datasets/fashion-mnist"]`.

    Returns:
        A list of `pathlib.Path` folders, first searched first.

    Example:

    >>> path = dataset_search_path(
    ...     "fashion-mnist", system_folders=["/usr/share/datasets/fashion-mnist"])
    >>> path[-1].as_posix()
    '/usr/share/datasets/fashion-mnist'
    >>> keras_datasets_folders()[0] / "fashion-mnist" in path
    True
    """
    if not isinstance(folder, (str, os.PathLike)) or not str(folder):
        raise ValueError(f"`folder` must be a non-empty folder name. Received: folder={folder!r}")
    if isinstance(keras_folders, (str, os.PathLike)) or isinstance(system_folders, (str, os.PathLike)):
        raise ValueError(
            "`keras_folders` and `system_folders` must be lists of folders, not one string. "
            f"Received: keras_folders={keras_folders!r}, system_folders={system_folders!r}"
        )
    folders = []
    data_dir = os.environ.get("KERASKIT_DATA_DIR")
    if data_dir:
        data_dir = Path(data_dir).expanduser()
        folders += [data_dir / folder, data_dir]
    for cache in keras_datasets_folders():
        folders += [cache / name for name in (keras_folders if keras_folders is not None else [folder])]
    folders += [Path(name) for name in system_folders]
    return list(dict.fromkeys(folders))


def find_dataset(files, search_path):
    """The first folder of `search_path` that holds every one of `files`, or None.

    A folder holding only some of the files (an interrupted download, a
    partial copy) is skipped, so the loader never reads half a dataset.

    Args:
        files: the file names a dataset needs, e.g.
            `["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]`.
        search_path: the folders to look in, in order (see
            `dataset_search_path`).

    Returns:
        The first such folder as a `pathlib.Path`, or `None`.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     partial, complete = Path(tmp, "partial"), Path(tmp, "complete")
    ...     for folder, names in ((partial, ["a.gz"]), (complete, ["a.gz", "b.gz"])):
    ...         folder.mkdir()
    ...         for name in names:
    ...             (folder / name).touch()
    ...     found = find_dataset(["a.gz", "b.gz"], [partial, complete])
    ...     found == complete, find_dataset(["c.gz"], [partial, complete])
    (True, None)
    """
    if isinstance(files, (str, os.PathLike)):
        raise ValueError(f"`files` must be a list of file names, not one name. Received: files={files!r}")
    files = list(files)
    if not files:
        raise ValueError(
            f"`files` must name at least one file (any folder holds zero files). Received: files={files!r}"
        )
    for folder in search_path:
        folder = Path(folder)
        if all((folder / name).is_file() for name in files):
            return folder
    return None


def download_or_explain(name, load, search_path, advice):
    """Calls Keras's downloading loader `load()`; if it fails, says what was searched and what to do.

    Args:
        name: the dataset's name, for the message.
        load: a function without arguments that downloads (or reads Keras's
            cache) and returns the data, e.g. `keras.datasets.cifar10.load_data`.
        search_path: the folders that were searched, listed in the message.
        advice: what to download and where to put it.

    Returns:
        What `load()` returns.

    Raises:
        DatasetUnavailableError: naming the dataset, the download error, the
            folders searched and `advice` (which files to put where).

    Example:

    >>> def offline():
    ...     raise OSError("no network")
    >>> try:
    ...     download_or_explain("Toy", offline, [Path("/data/toy")], "Put toy.npz there.")
    ... except DatasetUnavailableError as error:
    ...     print(error)
    Toy is not on this machine and could not be downloaded (OSError: no network).
    Searched:
      /data/toy
    Put toy.npz there.
    """
    try:
        return load()
    except Exception as error:  # urllib, HTTP, file and archive errors all mean the same here
        searched = "\n".join(f"  {folder}" for folder in search_path)
        raise DatasetUnavailableError(
            f"{name} is not on this machine and could not be downloaded "
            f"({type(error).__name__}: {error}).\nSearched:\n{searched}\n{advice}"
        ) from error
