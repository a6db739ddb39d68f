"""spikefab.hw"""
