"""spikefab.sim"""
