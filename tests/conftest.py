"""pytest puts this folder on sys.path (no __init__.py), so test modules
import the shared helpers ``dist_utils`` and ``tiny_models`` directly."""
