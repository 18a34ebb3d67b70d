"""Helpers the test layers share: key fixtures, throwaway secret trees, custom modules loaded as
plain Python, health data, reading rendered states."""
